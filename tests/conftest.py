"""Suite-wide settings: a throwaway-PostgreSQL plugin (storage.testing fixtures `pg_server`,
`pg_dsn`, `pg_dsn_empty`) and the Ray policy for every test process (no usage stats, no token
auth for the local test clusters)."""
import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

pytest_plugins = ["storage.testing"]
