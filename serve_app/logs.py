"""Logging of the API: the `serve_app` logger writes to a file (and keeps propagating to the
server's own handlers: uvicorn's stderr, or Serve's replica log files).

Lines carry the request id; the access log omits query strings (they may carry `api_key`).
"""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_configured: set[str] = set()


def configure_logging(log_file: str | None) -> None:
    logger = logging.getLogger("serve_app")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not log_file:
        return
    path = str(Path(log_file).resolve())
    if path in _configured:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=20_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    _configured.add(path)
