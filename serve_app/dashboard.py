"""The dashboard: `GET /` (serve_app/static/dashboard/index.html) and `/static/*` (its JS, CSS and
the vendored chart library copied from npm by `make deps-dashboard`; no CDN, works offline).

With API_KEY set, `/` needs the key like every route (`/?api_key=...`); the page reads it from its
own URL and passes it to the API (x-api-key header) and to /ws (?api_key=). The static files carry
no data and are open (serve_app.middleware.OPEN_PREFIXES), since a browser loading a module or a
stylesheet cannot attach the key.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from backbone import symbols

STATIC = Path(__file__).resolve().parent / "static"
PAGE = STATIC / "dashboard" / "index.html"
CHART_BUNDLE = STATIC / "vendor" / "lightweight-charts.standalone.production.js"


def symbol_universe() -> list[dict]:
    """The symbol master for the picker (code, name, market, sector); no I/O."""
    return [{"code": s.code, "name": s.name, "market": s.market, "sector": s.sector}
            for s in symbols.SYMBOLS.values()]


def install_dashboard(app: FastAPI) -> None:
    """Register `/`, `/dashboard/symbols` and the `/static` files on `app`."""
    universe = symbol_universe()

    @app.get("/", include_in_schema=False)
    async def dashboard_page() -> FileResponse:
        # no-cache: the page is tiny and must follow deployments of app.js at once
        return FileResponse(PAGE, media_type="text/html", headers={"cache-control": "no-cache"})

    @app.get("/dashboard/symbols", include_in_schema=False)
    async def dashboard_symbols() -> JSONResponse:
        return JSONResponse({"symbols": universe, "chart_bundle": CHART_BUNDLE.is_file()})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
