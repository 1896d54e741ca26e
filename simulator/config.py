"""Simulator configuration: one dataclass, every knob documented. Defaults mimic KIS."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from backbone.settings import SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET


@dataclass
class SimulatorConfig:
    # --- network (port 0 = ephemeral; the bound ports are on Simulator.rest_port / ws_port)
    host: str = "127.0.0.1"
    rest_port: int = 9443
    ws_port: int = 21000

    # --- credentials: app key -> app secret pairs the simulator accepts
    credentials: dict[str, str] = field(default_factory=lambda: {SIMULATOR_APP_KEY: SIMULATOR_APP_SECRET})

    # --- oauth rules (seconds, real time)
    token_validity_s: float = 86400.0  # access token lifetime (KIS: 24 h)
    token_reuse_s: float = 6 * 3600.0  # same token returned within this window (KIS: 6 h)
    token_issue_interval_s: float = 60.0  # at most one NEW token per app key per interval (EGW00133)

    # --- REST limits
    rest_rate_per_s: int = 20  # /uapi/* requests per second per app key (EGW00201, HTTP 500)

    # --- WebSocket rules
    max_registrations: int = 41  # per session; the next gets OPSP0008
    ping_interval_s: float = 30.0  # server PINGPONG period
    pong_timeout_s: float = 100.0  # session closed when a PINGPONG is not answered within this
    zombie_slot_s: float = 0.0  # > 0: an ended session keeps its app key "in use" (OPSP8996) this long,
    # like KIS's lingering slot after an abnormal disconnect (0: freed at once)
    send_queue_limit: int = 20000  # a session whose outgoing queue overflows is dropped (slow reader)

    # --- clock: "auto" (real time if KRX is open now, else a simulated session), "real",
    # "session" (most recent/next KRX trading day from 09:00 KST), "always-open" (real time,
    # market never closes). `start` (aware) overrides the starting instant; `speed` > 1 runs faster.
    clock: str = "auto"
    start: datetime | None = None
    speed: float = 1.0

    # --- market generation
    seed: int = 1
    symbols: tuple[str, ...] | None = None  # codes to simulate (None: the whole universe)
    rate: float = 2.0  # trades per (real) second per symbol
    rates: dict[str, float] = field(default_factory=dict)  # per-symbol overrides (1-200/s)
    book_rate: float = 1.0  # extra book-only updates per second per symbol
    index_rate: float = 1.0  # H0UPCNT0 updates per second per index
    tick_s: float = 0.1  # generator step (real seconds); prints in one step share a frame
    large_print_prob: float = 0.002  # probability that a print is a very large one
    large_print_mult: tuple[float, float] = (50.0, 200.0)  # its size multiplier range
    notice_interval_s: float = 20.0  # simulated order/fill notices per registered HTS ID
    record_trades_limit: int = 200_000  # per symbol; older trades leave the record (memory bound)

    # --- frame layouts (field counts KIS has used)
    asp_fields: int = 62  # H0STASP0: 59, 62 or 63
    cnt_fields: int = 46  # H0STCNT0: 46 or 47
    cni_fields: int = 26  # H0STCNI0/9: 26 or 23

    # --- replay: stream recorded raw frames instead of generated market frames
    replay_file: str | None = None
    replay_rate: float | None = None  # frames per second; None = as fast as the socket takes them
    replay_loop: bool = False


    def rate_for(self, code: str) -> float:
        return float(self.rates.get(code, self.rate))

    def __post_init__(self) -> None:
        if self.asp_fields not in (59, 62, 63):
            raise ValueError("asp_fields must be 59, 62 or 63")
        if self.cnt_fields not in (46, 47):
            raise ValueError("cnt_fields must be 46 or 47")
        if self.cni_fields not in (23, 26):
            raise ValueError("cni_fields must be 23 or 26")
        if self.clock not in ("auto", "real", "session", "always-open"):
            raise ValueError("clock must be auto, real, session or always-open")
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def __repr__(self) -> str:  # never show secrets
        return (f"SimulatorConfig(host={self.host!r}, rest_port={self.rest_port}, ws_port={self.ws_port}, "
                f"clock={self.clock!r}, speed={self.speed}, seed={self.seed}, app_keys={len(self.credentials)})")
