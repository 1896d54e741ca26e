"""Arbitrary client messages never raise out of the WebSocket message handler (hypothesis)."""
from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.server import Simulator
from simulator.ws import Session

from .conftest import FAST

SIM = Simulator(**FAST, rest_port=0, ws_port=0)
AK = SIM.auth.issue_approval(next(iter(SIM.config.credentials)))

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.sampled_from(["1", "2", "0", AK]))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.sampled_from(["header", "body", "input", "tr_id", "tr_key", "tr_type", "approval_key", "custtype"]) | st.text(max_size=5),
    c, max_size=5), max_leaves=20)


def session() -> Session:
    return Session(ws=None, transport=None, queue=asyncio.Queue(maxsize=1000))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_any_text_gets_a_reply_or_nothing_never_an_exception(text):
    s = session()
    SIM.ws.on_text(s, text)
    SIM.ws.by_app.clear()
    while not s.queue.empty():
        item = s.queue.get_nowait()
        if isinstance(item, str):
            reply = json.loads(item)
            assert reply["body"]["msg_cd"].startswith("OPSP")
