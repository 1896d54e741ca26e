"""The launcher's pure parts: watchlist parsing, the run-state file, configuration errors."""
from __future__ import annotations

import subprocess
import time
import sys

import pytest

from launcher.run import _config_error
from launcher.state import RunState, process_matches
from launcher.watchlist import WatchlistError, parse_watchlist, subscriptions


def test_default_watchlist_is_ten_krx_codes():
    codes = parse_watchlist(None)
    assert len(codes) == 10 and codes[0] == "005930" and len(set(codes)) == 10
    assert parse_watchlist("  ") == codes


def test_watchlist_env_is_cleaned_and_deduplicated():
    assert parse_watchlist(" 005930, 000660,,005930 ") == ["005930", "000660"]


@pytest.mark.parametrize("raw", ["12", "005930,abc", "0059301", "../x"])
def test_bad_watchlist_is_a_typed_error(raw):
    with pytest.raises(WatchlistError):
        parse_watchlist(raw)


def test_subscriptions_are_trades_and_books():
    assert subscriptions(["005930"]) == ["H0STCNT0:005930", "H0STASP0:005930"]


def test_state_round_trip_and_remove(tmp_path):
    st = RunState(launcher_pid=123, data_dir=str(tmp_path), serve_port=8000, simulator_pid=5,
                  actors=["candle-writer"], pg_data_dir=str(tmp_path / "pg"))
    st.save()
    back = RunState.load(tmp_path)
    assert back == st
    back.remove()
    assert RunState.load(tmp_path) is None


def test_corrupt_state_file_reads_as_none(tmp_path):
    RunState.path(tmp_path).write_text("{not json")
    assert RunState.load(tmp_path) is None


def test_process_matches_checks_the_command_line():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd, its cmdline is pytest's
        while not process_matches(child.pid, "time.sleep") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_matches(child.pid, "time.sleep")
        assert not process_matches(child.pid, "simulator")  # a recycled pid is never signalled
    finally:
        child.kill()
        child.wait()
    assert not process_matches(child.pid, "time.sleep")
    assert not process_matches(None)


def test_config_errors_never_echo_input():
    from backbone.settings import Settings
    with pytest.raises(ValueError) as info:
        Settings.from_env({"KIS_ENV": "prod-SECRET-ish"})
    msg = _config_error(info.value)
    assert "kis_env" in msg and "SECRET" not in msg
    with pytest.raises(ValueError) as info:
        Settings.from_env({"KIS_ENV": "real", "KIS_APP_KEY": "k" * 20}).check_production()
    msg = _config_error(info.value)
    assert "KIS_APP_SECRET" in msg and "kkkk" not in msg

