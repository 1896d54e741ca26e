
import pytest

from tests.storage.timescale_server import TimescaleServer


@pytest.fixture(scope="session")
def timescale_dsn():
    server = TimescaleServer().start()
    try:
        yield server.dsn
    finally:
        server.stop()
