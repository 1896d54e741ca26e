"""Run the HTTP API under plain uvicorn (no Ray): `python -m serve_app [--host H] [--port P]`.

Same app as the Serve deployment; config from the environment. The uvicorn access log is off
(it would print query strings, which may carry `api_key`); the app logs requests itself.
"""
from __future__ import annotations

import argparse
import logging

import uvicorn

from backbone.settings import Settings

from .app import ApiConfig, create_app


def main() -> None:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m serve_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.serve_port)
    parser.add_argument("--no-cache", action="store_true",
                        help="no candle cache (and no change feed): every request reads the DB")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(ApiConfig.from_settings(settings, change_feed=not args.no_cache))
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info")


if __name__ == "__main__":
    main()
