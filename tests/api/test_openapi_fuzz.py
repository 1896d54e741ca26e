"""OpenAPI-driven fuzzing (schemathesis) of the real app under uvicorn with a real database:
whatever the input, no 5xx (the DB is up, no live source is wired: UPSTREAM_UNAVAILABLE is the
one 503 the contract expects), every response matches its documented status, content type and
schema, and every error has the contract's shape."""
import asyncio
from datetime import date

import asyncpg
import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, settings

from serve_app.app import ApiConfig, create_app

from .conftest import insert_rows, session_rows
from .live_server import ThreadedServer


@pytest.fixture(scope="module")
def base_url(pg):
    async def seed():
        conn = await asyncpg.connect(pg.dsn)
        try:
            await conn.execute("TRUNCATE market_candles")
            await insert_rows(conn, session_rows("005930", date(2026, 11, 20)))
        finally:
            await conn.close()
    asyncio.run(seed())
    with ThreadedServer(create_app(ApiConfig(dsn=pg.dsn))) as url:
        yield url


# The schema is the app's own (same routes and parameters as the server below).
schema = schemathesis.openapi.from_dict(create_app(ApiConfig(dsn="unused", change_feed=False)).openapi())


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, base_url):
    response = case.call(base_url=base_url, timeout=30)
    # Documented status codes, content types and schemas. Not "positive data accepted": a
    # schema-valid range can still be semantically invalid (from after to, too many rows);
    # 5xx are judged above (the expected UPSTREAM_UNAVAILABLE).
    case.validate_response(response, excluded_checks=[checks.positive_data_acceptance,
                                                      checks.not_a_server_error])
    if response.status_code >= 500:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE", response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "request_id"}
