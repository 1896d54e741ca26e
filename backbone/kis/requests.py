"""WebSocket requests the client sends to KIS: subscribe / unsubscribe and the PINGPONG frame.

The JSON is built in the compact canonical form of KIS's own sample
(`ws_domestic_overseas_all.py`), with json escaping of the values so an odd tr_key cannot break it.
"""
from __future__ import annotations

import json

SUBSCRIBE = "1"  # tr_type 등록
UNSUBSCRIBE = "2"  # tr_type 해제

APP_PINGPONG = '{"header":{"tr_id":"PINGPONG"}}'


def _message(approval_key: str, tr_type: str, tr_id: str, tr_key: str, custtype: str) -> str:
    return json.dumps(
        {
            "header": {"approval_key": approval_key, "custtype": custtype, "tr_type": tr_type,
                       "content-type": "utf-8"},
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def subscribe_message(approval_key: str, tr_id: str, tr_key: str, custtype: str = "P") -> str:
    """Register (tr_id, tr_key) on the session. Contains the approval key: never log the result."""
    return _message(approval_key, SUBSCRIBE, tr_id, tr_key, custtype)


def unsubscribe_message(approval_key: str, tr_id: str, tr_key: str, custtype: str = "P") -> str:
    """Release (tr_id, tr_key). Contains the approval key: never log the result."""
    return _message(approval_key, UNSUBSCRIBE, tr_id, tr_key, custtype)
