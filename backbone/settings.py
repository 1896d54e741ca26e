"""Configuration, read from the environment only (never from files that could hold secrets).

Secrets are `SecretStr`: their repr and str are masked, so a settings object can be logged or
shown in an error without leaking them. Use `.get_secret_value()` only at the point of use.
"""
from __future__ import annotations

import hashlib
import os
from typing import Literal, Mapping

from pydantic import BaseModel, Field, SecretStr

KIS_HOSTS = {
    "real": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "paper": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
# Credentials the local simulator accepts; used only when KIS_ENV is unset.
SIMULATOR_APP_KEY = "SIMULATOR-APP-KEY"
SIMULATOR_APP_SECRET = "SIMULATOR-APP-SECRET"
NAMESPACE = "kis_backbone"


class Settings(BaseModel):
    kis_app_key: SecretStr = SecretStr(SIMULATOR_APP_KEY)
    kis_app_secret: SecretStr = SecretStr(SIMULATOR_APP_SECRET)
    kis_hts_id: str = ""
    kis_env: Literal["real", "paper"] | None = None
    database_url: SecretStr | None = None
    api_key: SecretStr | None = None
    alert_webhook_urls: list[str] = Field(default_factory=list)
    ray_address: str | None = None
    serve_port: int = 8000
    sim_host: str = "127.0.0.1"
    sim_rest_port: int = 9443
    sim_ws_port: int = 21000
    data_dir: str = ".data"
    registration_budget: int = 41
    rest_rate_per_s: float | None = None  # None: 20/s real and simulator, 2/s paper
    ws_app_ping_s: float = 30.0
    ws_idle_limit_s: float = 600.0

    @property
    def uses_simulator(self) -> bool:
        return self.kis_env is None

    @property
    def rest_base_url(self) -> str:
        if self.kis_env is None:
            return f"http://{self.sim_host}:{self.sim_rest_port}"
        return KIS_HOSTS[self.kis_env][0]

    @property
    def ws_url(self) -> str:
        if self.kis_env is None:
            return f"ws://{self.sim_host}:{self.sim_ws_port}/tryitout"
        return KIS_HOSTS[self.kis_env][1] + "/tryitout"

    @property
    def rest_rate(self) -> float:
        if self.rest_rate_per_s is not None:
            return self.rest_rate_per_s
        return 2.0 if self.kis_env == "paper" else 20.0

    @property
    def app_key_id(self) -> str:
        """A stable, non-reversible name for the app key (actor names, DB rows, logs)."""
        digest = hashlib.sha256(self.kis_app_key.get_secret_value().encode()).hexdigest()
        return digest[:16]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, object] = {}

        def put(field: str, name: str, cast=str) -> None:
            raw = env.get(name)
            if raw not in (None, ""):
                values[field] = cast(raw)

        put("kis_app_key", "KIS_APP_KEY")
        put("kis_app_secret", "KIS_APP_SECRET")
        put("kis_hts_id", "KIS_HTS_ID")
        put("kis_env", "KIS_ENV", str.lower)
        put("database_url", "DATABASE_URL")
        put("api_key", "VITE_API_KEY")
        put("api_key", "API_KEY")  # API_KEY wins over VITE_API_KEY
        put("alert_webhook_urls", "ALERT_WEBHOOK_URLS",
            lambda s: [u.strip() for u in s.split(",") if u.strip()])
        put("ray_address", "RAY_ADDRESS")
        put("serve_port", "SERVE_PORT", int)
        put("sim_host", "SIM_HOST")
        put("sim_rest_port", "SIM_REST_PORT", int)
        put("sim_ws_port", "SIM_WS_PORT", int)
        put("data_dir", "BACKBONE_DATA_DIR")
        put("registration_budget", "KIS_REGISTRATION_BUDGET", int)
        put("rest_rate_per_s", "KIS_REST_RATE", float)
        put("ws_app_ping_s", "KIS_WS_PING_S", float)
        put("ws_idle_limit_s", "KIS_WS_IDLE_S", float)
        return cls(**values)

    def check_production(self) -> None:
        """Refuse to run against real KIS without credentials and an API key."""
        if self.kis_env is None:
            return
        missing = [n for n, v in (("KIS_APP_KEY", self.kis_app_key.get_secret_value() != SIMULATOR_APP_KEY),
                                  ("KIS_APP_SECRET", self.kis_app_secret.get_secret_value() != SIMULATOR_APP_SECRET),
                                  ("API_KEY", self.api_key is not None)) if not v]
        if missing:
            raise ValueError(f"KIS_ENV={self.kis_env} requires {', '.join(missing)} to be set")
