"""e2e tests reuse the integration fixtures (session Ray, throwaway Postgres, simulator per test)."""
from tests.integration.conftest import make_env, pg_dsn, ray_env, ray_session  # noqa: F401
