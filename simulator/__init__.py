"""A protocol-exact KIS server simulator (REST + real-time WebSocket), for development and tests.

Run: `python -m simulator [--rest-port 9443 --ws-port 21000 --clock auto|real|session|always-open
--start 2026-11-20T09:00:00+09:00 --speed 60 --rate 2 --asp-fields 62 --seed 1 --replay FILE]`.

In tests: `simulator.testing.running_simulator(**config)` (same loop) or `SimulatorThread(**config)`
(own thread); config fields are documented on `simulator.config.SimulatorConfig`.

Layout: config (knobs), clock (simulated time, KRX calendar), ticks (price grid), krx / overseas
(per-symbol generators), history (deterministic past days), market (all generators + the record),
frames (the encoder, independent of backbone.kis.codec), auth (tokens, approval keys, rate limit),
ws (sessions and control replies), rest (oauth2, quotations, /_sim control), faults, replay,
server (composition, loops, stats).

Control endpoints (REST port): GET /_sim/stats, GET /_sim/candles?symbol=, GET /_sim/trades?symbol=,
POST /_sim/faults/{drop,stall?seconds=,restart?refuse_seconds=,malformed?count=,loss?frames=,
auth?fail=1|0,reply?msg_cd=,zombie?seconds=}, POST /_sim/halt?symbol=&halted=1|0.
"""
from .config import SimulatorConfig
from .server import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
