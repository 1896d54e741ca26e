// Rendering of the dashboard panels (plain DOM; every value escaped).

const esc = v => String(v ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const num = v => v == null || v === "" ? "–" : Number(v).toLocaleString("en-US", {maximumFractionDigits: 4});
const pct = v => v == null ? "–" : `${v > 0 ? "+" : ""}${Number(v).toFixed(2)}%`;
const sign = v => v > 0 ? "up" : v < 0 ? "down" : "flat";
const clock = iso => iso ? String(iso).slice(11, 19) : "";

/** Korean won amounts in 억 (1e8) / 만 (1e4) when large. */
function won(v) {
  const n = Number(v);
  if (!isFinite(n)) return "–";
  if (Math.abs(n) >= 1e8) return `${(n / 1e8).toFixed(1)}억`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e4).toFixed(0)}만`;
  return num(n);
}

/** The status-channel summary from /api/status's raw socket status (before the channel answers). */
export function summarizeUpstream(up) {
  const conn = (up.socket || {}).connection || {}, regs = (up.socket || {}).registrations || {};
  return {state: conn.state || up.state || "unknown", since: conn.since, reconnects: conn.reconnects || 0,
          last_frame_age_s: conn.last_frame_age_s, registrations_used: regs.used,
          registrations_budget: regs.budget, registrations_live: regs.live};
}

export function picker(select, universe, streamed, current) {
  const names = new Map(universe.map(s => [s.code, s]));
  const opt = code => {
    const s = names.get(code);
    return `<option value="${esc(code)}"${code === current ? " selected" : ""}>${esc(code)}${s ? " · " + esc(s.name) : ""}</option>`;
  };
  const rest = universe.map(s => s.code).filter(c => !streamed.includes(c));
  if (current && !names.has(current) && !streamed.includes(current)) rest.unshift(current);
  select.innerHTML = (streamed.length ? `<optgroup label="Streaming now">${streamed.map(opt).join("")}</optgroup>` : "")
    + `<optgroup label="All symbols">${rest.map(opt).join("")}</optgroup>`;
}

export function header(state) {
  const t = state.lastTrade, s = state.universe.find(u => u.code === state.symbol);
  document.getElementById("sym-name").textContent = s ? `${s.name} · ${s.market} · ${s.sector}` : "";
  const el = document.getElementById("last");
  if (!t) { el.innerHTML = '<span class="muted">waiting for trades…</span>'; return; }
  const chg = Number(t.change || 0);
  el.innerHTML = `<span class="price ${sign(chg)}">${num(t.price)}</span>
    <span class="${sign(chg)}">${chg > 0 ? "▲" : chg < 0 ? "▼" : ""} ${num(Math.abs(chg))} (${pct(Number(t.change_rate))})</span>
    <span class="muted">vol ${num(t.cum_volume)}</span>`;
}

export function status(el, state, stream) {
  const st = state.status || {};
  const used = st.registrations_used, budget = st.registrations_budget;
  const share = budget ? Math.min(100, 100 * (used || 0) / budget) : 0;
  const upstream = st.state || "unknown";
  const api = state.api || {};
  const rows = [
    ["Stream", state.connected ? '<span class="pill ok">connected</span>'
      : `<span class="pill bad">${state.closeCode === 4401 ? "API key refused" : "reconnecting"}</span>`],
    ["Upstream", `<span class="pill ${upstream === "connected" ? "ok" : "warn"}">${esc(upstream)}</span>`],
    ["Budget", budget ? `${num(used)} / ${num(budget)}<div class="meter"><div style="width:${share}%"></div></div>` : "–"],
    ["Reconnects", num(st.reconnects)],
    ["Last frame", st.last_frame_age_s == null ? "–" : `${Number(st.last_frame_age_s).toFixed(1)} s ago`],
    ["Database", api.error ? `<span class="pill bad">${esc(api.error)}</span>`
      : api.db_up === undefined ? "–" : `<span class="pill ${api.db_up ? "ok" : "bad"}">${api.db_up ? "up" : "down"}</span>`],
    ["Candle cache", api.cache ? `${num(api.cache.entries)} · hit ${pct(100 * (api.cache.hit_rate || 0))}` : "–"],
    ["Resumes / gaps", `${num(stream.reconnects)} / ${num(stream.gaps)}`],
  ];
  if (st.alerts_held) rows.push(["Alerts", `<span class="pill warn">${esc(st.alerts_held)}</span>`]);
  const errs = state.errors.slice(-3).map(e => `<div class="err">${esc(e.code)}: ${esc(e.message)}</div>`).join("");
  el.innerHTML = `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("")}</table>${errs}`;
  document.getElementById("conn-dot").className = `dot ${state.connected && upstream === "connected" ? "ok" : state.connected ? "warn" : "bad"}`;
}

export function book(el, b, state) {
  const badge = document.getElementById("book-check");
  if (!b) {
    el.innerHTML = '<div class="empty">waiting for the order book…</div>';
    badge.className = "badge"; badge.textContent = "no book";
    return;
  }
  badge.className = `badge ${b.ok ? "ok" : "bad"}`;
  badge.textContent = b.ok ? "✓ checksum ok" : "checksum mismatch · resync";
  badge.title = `seq ${state.bookSeq} · CRC32 ${b.checksum} · ${state.deltas} deltas · ${state.resyncs} resyncs`;
  const max = Math.max(1, ...b.asks.map(l => l[1]), ...b.bids.map(l => l[1]));
  const row = (cls, [p, s]) => `<tr class="${cls}"><td class="bar-cell"><div class="bar" style="width:${(100 * s / max).toFixed(1)}%"></div>
    <span>${num(s)}</span></td><td class="px">${num(p)}</td></tr>`;
  const asks = b.asks.slice().reverse().map(l => row("ask", l)).join("");
  const bids = b.bids.map(l => row("bid", l)).join("");
  const spread = b.asks.length && b.bids.length ? Number(b.asks[0][0]) - Number(b.bids[0][0]) : null;
  el.innerHTML = `<table class="book"><thead><tr><th>size</th><th>price</th></tr></thead><tbody>${asks}
    <tr class="spread"><td colspan="2">spread ${num(spread)}</td></tr>${bids}</tbody></table>`;
}

export function trades(el, list) {
  if (!list.length) { el.innerHTML = '<div class="empty">waiting for trades…</div>'; return; }
  el.innerHTML = `<table class="trades"><thead><tr><th>time</th><th>price</th><th>size</th></tr></thead><tbody>${
    list.map(t => `<tr class="${t.side === "buy" ? "buy" : t.side === "sell" ? "sell" : ""}">
      <td>${esc(clock(t.time))}</td><td class="px">${num(t.price)}</td><td>${num(t.size)}</td></tr>`).join("")}</tbody></table>`;
}

export function whales(el, list) {
  if (!list.length) { el.innerHTML = '<div class="empty">no whale prints yet</div>'; return; }
  el.innerHTML = `<table class="whales"><thead><tr><th>time</th><th>symbol</th><th>side</th><th>notional</th></tr></thead><tbody>${
    list.map(a => `<tr class="${a.side === "buy" ? "buy" : a.side === "sell" ? "sell" : ""}"
      title="${num(a.total_size)} shares in ${num(a.count)} print(s) · vwap ${num(a.vwap)} · ${esc((a.reasons || []).join(", "))}">
      <td>${esc(clock(a.last_time || a.first_time))}</td><td>${esc(a.symbol)}</td><td>${esc(a.side)}</td>
      <td>${won(a.notional)}</td></tr>`).join("")}</tbody></table>`;
}

export function sectors(el, data) {
  const list = data && data.sectors || [];
  if (!list.length) { el.innerHTML = '<div class="empty">no sector aggregation yet (jobs.sectors)</div>'; return; }
  const top = m => m && m.length ? `${esc(m[0].name || m[0].symbol)} <span class="${sign(m[0].change_pct)}">${pct(m[0].change_pct)}</span>` : "–";
  el.innerHTML = `<table class="sectors"><thead><tr><th>sector</th><th title="equal-weighted change">EW</th><th title="value-weighted change">VW</th><th title="advancers / decliners / unchanged">A / D / U</th><th>top gainer</th><th>top loser</th></tr></thead><tbody>${
    list.map(s => `<tr class="${s.priced ? "" : "unpriced"}" title="${num(s.priced)} of ${num(s.symbols)} symbols priced"><td>${esc(s.sector)}</td><td class="${sign(s.equal_weighted_change)}">${pct(s.equal_weighted_change)}</td>
      <td class="${sign(s.value_weighted_change)}">${pct(s.value_weighted_change)}</td>
      <td><span class="up">${num(s.advancers)}</span> / <span class="down">${num(s.decliners)}</span> / ${num(s.unchanged)}</td>
      <td>${top(s.top_gainers)}</td><td>${top(s.top_losers)}</td></tr>`).join("")}</tbody></table>
    <div class="muted small">as of ${esc(String(data.time || "").replace("T", " ").slice(0, 19))}</div>`;
}

export function chartNote(el, candles, interval) {
  el.textContent = candles.error ? candles.error : `${candles.loaded} candles · ${interval} · hollow grey = filled (no trades)`;
}
