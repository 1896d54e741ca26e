from backbone.settings import SIMULATOR_APP_KEY, Settings


def test_defaults_point_at_the_simulator():
    s = Settings.from_env({})
    assert s.uses_simulator
    assert s.rest_base_url == "http://127.0.0.1:9443"
    assert s.ws_url.startswith("ws://127.0.0.1:21000")
    assert s.rest_rate == 20.0
    assert s.kis_app_key.get_secret_value() == SIMULATOR_APP_KEY


def test_paper_env_selects_paper_hosts_and_rate():
    s = Settings.from_env({"KIS_ENV": "PAPER", "KIS_APP_KEY": "k", "KIS_APP_SECRET": "s", "API_KEY": "a"})
    assert s.kis_env == "paper"
    assert ":29443" in s.rest_base_url and ":31000" in s.ws_url
    assert s.rest_rate == 2.0
    s.check_production()


def test_secrets_never_show_in_repr_or_str():
    s = Settings.from_env({"KIS_APP_KEY": "PSabcdefSECRETKEY", "KIS_APP_SECRET": "topsecretvalue",
                           "API_KEY": "apikey123", "DATABASE_URL": "postgresql://u:pw@h/db"})
    text = repr(s) + str(s) + s.model_dump_json()
    for secret in ("PSabcdefSECRETKEY", "topsecretvalue", "apikey123", "pw@h"):
        assert secret not in text
    assert "PSabcdefSECRETKEY" not in s.app_key_id and len(s.app_key_id) == 16


def test_production_requires_credentials_and_api_key():
    s = Settings.from_env({"KIS_ENV": "real"})
    try:
        s.check_production()
    except ValueError as e:
        assert "KIS_APP_KEY" in str(e) and "API_KEY" in str(e)
    else:
        raise AssertionError("KIS_ENV=real without credentials must be refused")


def test_api_key_wins_over_vite_api_key_and_webhooks_split():
    s = Settings.from_env({"VITE_API_KEY": "v", "API_KEY": "a", "ALERT_WEBHOOK_URLS": "http://x/1, http://y/2,"})
    assert s.api_key.get_secret_value() == "a"
    assert s.alert_webhook_urls == ["http://x/1", "http://y/2"]
