"""Pearson correlation between symbols' returns, computed block by block (pure core, no Ray).

Pipeline: closes (long rows) -> `align_closes` on a calendar grid (T x N, NaN where a bar is
missing; no forward fill, which would invent zero returns) -> `simple_returns` (NaN unless both
bars exist) -> `drop_sparse` (symbols with fewer than `min_overlap` returns are reported, never
silently dropped) -> `block_pairs` + `block_candidates` per pair of column blocks -> `TopK.merge`.

Missing values use pairwise-complete observations, like pandas' DataFrame.corr: for each pair only
the bars where both returns exist count, and that count (`overlap`) is reported with the result.
A block never materialises more than block x block floats, so 10,000 symbols fit in bounded
memory: the full 10k x 10k matrix (800 MB) is never built, only the top-k per symbol is kept.

p-values are two-sided, from the t distribution with n - 2 degrees of freedom (the same test as
scipy.stats.pearsonr).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats


class CorrelationInputError(ValueError):
    """Input that cannot be aligned or correlated (shapes, unknown symbols, bad parameters)."""


@dataclass(frozen=True, slots=True)
class Aligned:
    symbols: list[str]
    grid: np.ndarray  # bucket starts (epoch seconds), sorted
    closes: np.ndarray  # T x N float64, NaN where the symbol has no bar at that grid point
    off_grid: int  # input rows whose time is not on the grid (counted, not used)


def align_closes(symbols: list[str] | np.ndarray, epochs: np.ndarray, closes: np.ndarray,
                 grid: np.ndarray, universe: list[str] | None = None) -> Aligned:
    """Long rows (symbol, epoch seconds, close) -> a T x N matrix on the calendar grid.

    `universe` fixes the column order (and keeps symbols without any rows, as all-NaN columns,
    so they are reported later); by default the sorted distinct symbols. A duplicate
    (symbol, time) keeps the last row given.
    """
    sym = np.asarray(symbols).astype(str)
    ep = np.asarray(epochs, dtype=np.int64)
    px = np.asarray(closes, dtype=np.float64)
    if not (len(sym) == len(ep) == len(px)):
        raise CorrelationInputError("symbols, epochs and closes differ in length")
    grid = np.asarray(grid, dtype=np.int64)
    if grid.size and np.any(np.diff(grid) <= 0):
        raise CorrelationInputError("grid must be strictly increasing")
    names = list(universe) if universe is not None else sorted(set(sym.tolist()))
    col_of = {s: i for i, s in enumerate(names)}
    cols = np.array([col_of.get(s, -1) for s in sym.tolist()], dtype=np.int64)
    rows = np.searchsorted(grid, ep)
    on_grid = (rows < grid.size) & (grid[np.minimum(rows, max(grid.size - 1, 0))] == ep) \
        if grid.size else np.zeros(len(ep), dtype=bool)
    keep = on_grid & (cols >= 0) & np.isfinite(px) & (px > 0)
    out = np.full((grid.size, len(names)), np.nan)
    out[rows[keep], cols[keep]] = px[keep]
    return Aligned(names, grid, out, int((~on_grid).sum()))


def simple_returns(closes: np.ndarray) -> np.ndarray:
    """(T-1) x N simple returns close_t / close_{t-1} - 1; NaN unless both closes exist."""
    closes = np.asarray(closes, dtype=np.float64)
    if closes.ndim != 2:
        raise CorrelationInputError("closes must be a 2-d matrix")
    with np.errstate(invalid="ignore", divide="ignore"):
        return closes[1:] / closes[:-1] - 1.0


@dataclass(frozen=True, slots=True)
class Sparse:
    symbol: str
    observations: int  # valid returns in the window


def drop_sparse(symbols: list[str], returns: np.ndarray, min_overlap: int
                ) -> tuple[list[str], np.ndarray, list[Sparse]]:
    """Remove symbols with fewer than `min_overlap` valid returns (or constant returns, which
    have no correlation); they come back in the report list."""
    valid = np.isfinite(returns)
    counts = valid.sum(axis=0)
    with np.errstate(invalid="ignore"):
        spread = np.nanmax(np.where(valid, returns, -np.inf), axis=0) - \
            np.nanmin(np.where(valid, returns, np.inf), axis=0)
    ok = (counts >= max(min_overlap, 3)) & (spread > 0)
    dropped = [Sparse(s, int(c)) for s, c, k in zip(symbols, counts, ok) if not k]
    kept = [s for s, k in zip(symbols, ok) if k]
    return kept, returns[:, ok], dropped


def block_ranges(n: int, block: int) -> list[tuple[int, int]]:
    if block < 1:
        raise CorrelationInputError("block size must be >= 1")
    return [(a, min(a + block, n)) for a in range(0, n, block)]


def block_pairs(n: int, block: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Upper-triangular pairs of column blocks (the matrix is symmetric)."""
    rs = block_ranges(n, block)
    return [(rs[i], rs[j]) for i in range(len(rs)) for j in range(i, len(rs))]


def pairwise_pearson(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r (Bx x By) and overlap counts between the columns of x (T x Bx) and y (T x By),
    using for each pair only the rows where both are finite.

    Sums over the pairwise-complete rows come from six matrix products on zero-filled data and
    masks. Columns are centred on their own mean first, which keeps the one-pass formula from
    cancelling catastrophically. Pairs with n < 2 or zero variance get NaN.
    """
    mx, my = np.isfinite(x), np.isfinite(y)
    if mx.all() and my.all():  # no missing values: one product does it
        xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
        sxx = np.einsum("ij,ij->j", xc, xc)[:, None]
        syy = np.einsum("ij,ij->j", yc, yc)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (xc.T @ yc) / np.sqrt(sxx * syy)
        n = np.full(r.shape, x.shape[0], dtype=np.int64)
        if x.shape[0] < 2:
            r[:] = np.nan
        return np.clip(r, -1.0, 1.0, out=r), n
    xc = np.where(mx, x - _nanmean(x, mx), 0.0)
    yc = np.where(my, y - _nanmean(y, my), 0.0)
    fx, fy = mx.astype(np.float64), my.astype(np.float64)
    n = fx.T @ fy
    sx, sy = xc.T @ fy, fx.T @ yc
    sxx, syy = (xc * xc).T @ fy, fx.T @ (yc * yc)
    sxy = xc.T @ yc
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r = cov / np.sqrt(vx * vy)
        r[(vx <= 0) | (vy <= 0)] = np.nan
    r[n < 2] = np.nan
    return np.clip(r, -1.0, 1.0), n.astype(np.int64)


def _nanmean(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    cnt = mask.sum(axis=0)
    tot = np.where(mask, a, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)


def p_values(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of H0: rho = 0, t = r sqrt((n-2)/(1-r^2)) with n-2 dof; NaN for n < 3."""
    r = np.asarray(r, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    dof = n - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(r) * np.sqrt(dof / np.maximum(1.0 - r * r, 0.0))
        p = 2.0 * stats.t.sf(t, np.where(dof > 0, dof, np.nan))
    p = np.where(np.abs(r) >= 1.0, 0.0, p)
    return np.where((n < 3) | ~np.isfinite(r), np.nan, p)


@dataclass(slots=True)
class Candidates:
    """Best k per row of one side: indices into the global symbol list (-1 = empty slot)."""
    rows: np.ndarray  # global row indices (R,)
    pos_idx: np.ndarray  # R x k
    pos_r: np.ndarray  # R x k, -inf in empty slots
    pos_n: np.ndarray
    neg_idx: np.ndarray
    neg_r: np.ndarray  # R x k, +inf in empty slots
    neg_n: np.ndarray


def _best(r: np.ndarray, n: np.ndarray, cols: np.ndarray, k: int, sign: int, axis: int = 1):
    """For each row (axis=1) or column (axis=0) of r, the k largest positive (sign=+1) or
    smallest negative (sign=-1) entries. `r` holds no NaN: excluded pairs are 0, which is
    neither sign, so they drop out after selection. Returns (idx, r, n), each lines x k."""
    if axis == 0:
        r, n = r.T, n.T  # views; argpartition below copies anyway
    lines, width = r.shape
    kk = min(k, width)
    idx_out = np.full((lines, k), -1)
    r_out = np.full((lines, k), -np.inf * sign)
    n_out = np.zeros((lines, k), np.int64)
    if kk == 0:
        return idx_out, r_out, n_out
    part = np.argpartition(r, -kk, axis=1)[:, -kk:] if sign > 0 else \
        np.argpartition(r, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(r, part, axis=1)
    ok = vals > 0 if sign > 0 else vals < 0
    idx_out[:, :kk] = np.where(ok, cols[part], -1)
    r_out[:, :kk] = np.where(ok, vals, -np.inf * sign)
    n_out[:, :kk] = np.where(ok, np.take_along_axis(n, part, axis=1), 0)
    return idx_out, r_out, n_out


def block_candidates(returns: np.ndarray, a: tuple[int, int], b: tuple[int, int], k: int,
                     min_overlap: int) -> tuple[list[Candidates], int]:
    """Correlate column block a with block b; top-k candidates for a's rows (and b's, when the
    blocks differ). Self-pairs and pairs with overlap < min_overlap are excluded; the second
    value is how many pairs were skipped for too little overlap."""
    x, y = returns[:, a[0]:a[1]], returns[:, b[0]:b[1]]
    r, n = pairwise_pearson(x, y)
    thin = n < min_overlap
    if a == b:
        np.fill_diagonal(thin, False)
        skipped = int(np.triu(thin, 1).sum())
        np.fill_diagonal(r, 0.0)
    else:
        skipped = int(thin.sum())
    r[thin] = 0.0
    np.nan_to_num(r, copy=False, nan=0.0)
    cols_b, cols_a = np.arange(b[0], b[1]), np.arange(a[0], a[1])
    out = [Candidates(cols_a, *_best(r, n, cols_b, k, 1), *_best(r, n, cols_b, k, -1))]
    if a != b:
        out.append(Candidates(cols_b, *_best(r, n, cols_a, k, 1, axis=0),
                              *_best(r, n, cols_a, k, -1, axis=0)))
    return out, skipped


@dataclass
class TopK:
    """Running top-k positive and negative partners for each of n symbols."""
    n: int
    k: int
    pos_idx: np.ndarray = field(init=False)
    pos_r: np.ndarray = field(init=False)
    pos_n: np.ndarray = field(init=False)
    neg_idx: np.ndarray = field(init=False)
    neg_r: np.ndarray = field(init=False)
    neg_n: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n, self.k)
        self.pos_idx, self.neg_idx = np.full(shape, -1), np.full(shape, -1)
        self.pos_r, self.neg_r = np.full(shape, -np.inf), np.full(shape, np.inf)
        self.pos_n, self.neg_n = np.zeros(shape, np.int64), np.zeros(shape, np.int64)

    def merge(self, c: Candidates) -> None:
        for side, sign in (("pos", 1), ("neg", -1)):
            idx = np.concatenate([getattr(self, f"{side}_idx")[c.rows], getattr(c, f"{side}_idx")], axis=1)
            r = np.concatenate([getattr(self, f"{side}_r")[c.rows], getattr(c, f"{side}_r")], axis=1)
            n = np.concatenate([getattr(self, f"{side}_n")[c.rows], getattr(c, f"{side}_n")], axis=1)
            order = np.argsort(-sign * r, axis=1, kind="stable")[:, :self.k]
            getattr(self, f"{side}_idx")[c.rows] = np.take_along_axis(idx, order, axis=1)
            getattr(self, f"{side}_r")[c.rows] = np.take_along_axis(r, order, axis=1)
            getattr(self, f"{side}_n")[c.rows] = np.take_along_axis(n, order, axis=1)


@dataclass(frozen=True, slots=True)
class Related:
    symbol: str
    related: str
    direction: str  # "positive" | "negative"
    rank: int  # 1 = strongest
    correlation: float
    p_value: float
    overlap: int


def related_rows(symbols: list[str], top: TopK) -> list[Related]:
    """Flatten the top-k table into rows, strongest first per symbol and direction."""
    out: list[Related] = []
    for side, direction in (("pos", "positive"), ("neg", "negative")):
        idx, r, n = getattr(top, f"{side}_idx"), getattr(top, f"{side}_r"), getattr(top, f"{side}_n")
        p = p_values(np.where(idx >= 0, r, np.nan), n)
        for i, s in enumerate(symbols):
            for j in range(top.k):
                if idx[i, j] < 0:
                    break
                out.append(Related(s, symbols[idx[i, j]], direction, j + 1, float(r[i, j]),
                                   float(p[i, j]), int(n[i, j])))
    return out


def correlate_topk(returns: np.ndarray, k: int, min_overlap: int, block: int = 512) -> tuple[TopK, int]:
    """Single-process reference path (the Ray job runs `block_candidates` as tasks instead)."""
    top = TopK(returns.shape[1], k)
    skipped = 0
    for a, b in block_pairs(returns.shape[1], block):
        cands, s = block_candidates(returns, a, b, k, min_overlap)
        skipped += s
        for c in cands:
            top.merge(c)
    return top, skipped
