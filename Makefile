# SpeedRank: `make run` serves the API, `make test` runs the suite. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHONS := python3.15 python3.14 python3.13 python3.12 python3.11 python3
LOCAL_REDIS := speedrank/scripts/local_redis.sh
BENCH_PLAYERS ?= 1000000
BENCH_HTTP_PLAYERS ?= 100000
# Scenarios or groups (seed, floor, v1, base, all), comma-separated; unset: all.
BENCH_HTTP_SCENARIOS ?=
# The apps' database: sqlite (a file each) or postgres (a private cluster, installed if missing).
BENCH_HTTP_DATABASE ?= sqlite
# The commit the seed scenarios are compared with side by side; none: no baseline.
BENCH_BASELINE ?= 90b7c75
BENCH_SCALE_SIZES ?= 10000,1000000,10000000
# Players of bench-scale's sharded run (5 regions on a loopback Redis Cluster); 0: none.
BENCH_SCALE_SHARDED ?= 10000000
# bench-live: board subscribers and score writes per second while they watch; match rooms and
# their actions per second in all; idle sockets beside the REST runs, and for the memory figure.
BENCH_LIVE_SUBSCRIBERS ?= 1000
BENCH_LIVE_WRITES ?= 1000
BENCH_LIVE_ROOMS ?= 500
BENCH_LIVE_ACTIONS ?= 1000
BENCH_LIVE_IDLE ?= 1000
BENCH_LIVE_MEMORY_SOCKETS ?= 1000,5000

.PHONY: help install redis-server postgresql chromium migrate run dev test test-sqlite test-postgres test-database test-cluster test-fast lint bench bench-http bench-scale bench-live bench-export bench-seasons loadtest sync-redis check-redis redis-start redis-stop clean

help:
	@echo "make run         install what is missing, migrate, serve with granian on HOST:PORT (127.0.0.1:8000), WebSockets on WS_PORT (8001)"
	@echo "make dev         the same with Django's autoreloading runserver"
	@echo "make test        install what is missing, lint, and run the suite on SQLite, PostgreSQL and a Redis Cluster"
	@echo "make test-fast   the same without the tests that start servers of their own"
	@echo "make bench       SQL vs Redis reads and sync_redis at BENCH_PLAYERS players (default 1,000,000)"
	@echo "make bench-http  HTTP req/s and latency with wrk, granian as in production, at BENCH_HTTP_PLAYERS (100,000)"
	@echo "make bench-scale top-10, rank and neighbours latency and Redis bytes/player at BENCH_SCALE_SIZES (10k, 1M, 10M),"
	@echo "                 then BENCH_SCALE_SHARDED (10M) players over 5 regions on a loopback Redis Cluster"
	@echo "make bench-export the export job's time and peak RSS at BENCH_EXPORT_SIZES (100k, 1M) players"
	@echo "make bench-seasons closing a period and reading the closed one at BENCH_SEASONS_SIZES (10k, 100k, 1M) players"
	@echo "make bench-live  the live server under load: push latency to BENCH_LIVE_SUBSCRIBERS (1,000) WebSockets"
	@echo "                 at BENCH_LIVE_WRITES (1,000) writes/s, BENCH_LIVE_ROOMS (500) match rooms, REST beside"
	@echo "                 BENCH_LIVE_IDLE (1,000) idle sockets, memory per socket at BENCH_LIVE_MEMORY_SOCKETS"
	@echo "make loadtest    Locust, headless, against LOADTEST_HOST (default http://127.0.0.1:8000)"

install: $(STAMP) redis-server

$(PY):
	@py=""; for candidate in $(PYTHONS); do \
	  if $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then py=$$candidate; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "no Python 3.11 or newer on PATH: installing Debian's python3"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; py=python3; \
	fi; \
	if ! $$py -m venv $(VENV) 2>/dev/null; then \
	  venv_package=$$($$py -c 'import sys; print(f"python3.{sys.version_info.minor}-venv")'); \
	  echo "installing $$venv_package"; rm -rf $(VENV); \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$venv_package >/dev/null; \
	  $$py -m venv $(VENV); \
	fi

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

# Debian starts and enables its own redis-server service on install; SpeedRank runs its own
# under var/ (or uses REDIS_URL), so the service is stopped and disabled again.
redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
	  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; \
	  else service redis-server stop >/dev/null 2>&1 || true; fi; }

# Debian's PostgreSQL server, for the suite's private cluster; like redis-server, Debian's own
# cluster service is stopped and disabled again (the suite starts one of its own).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing postgresql"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl disable --now postgresql >/dev/null 2>&1 || true; \
	  else service postgresql stop >/dev/null 2>&1 || true; fi; }

# Debian's Chromium and its WebDriver, for the live page's browser tests (test_live_page.py).
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium chromium-driver"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

migrate: install
	$(PY) manage.py migrate --noinput

redis-start: redis-server
	@$(LOCAL_REDIS) start

redis-stop:
	@$(LOCAL_REDIS) stop

# Without REDIS_URL, serve against a redis-server of our own under var/, stopped again on exit.
SERVE := $(PY) -m speedrank.serve
run: migrate
	@if [ -n "$$REDIS_URL" ]; then $(SERVE); else $(LOCAL_REDIS) run $(SERVE); fi

dev: migrate
	@if [ -n "$$REDIS_URL" ]; then $(DEV_SERVE); else $(LOCAL_REDIS) run $(DEV_SERVE); fi
DEV_SERVE = $(PY) manage.py runserver $${HOST:-127.0.0.1}:$${PORT:-8000}

# The whole suite on SQLite, then on a private PostgreSQL cluster started for it (or once, on the
# database DATABASE_URL names, if it is set), then on a loopback Redis Cluster.
test: install lint
	@if [ -n "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory --keep-going test-database test-cluster; \
	else $(MAKE) --no-print-directory --keep-going test-sqlite test-postgres test-cluster; fi

test-database: install chromium
	@echo "== the suite on DATABASE_URL"
	$(PY) -m pytest

test-sqlite: install chromium
	@echo "== the suite on SQLite"
	$(PY) -m pytest

test-postgres: install postgresql chromium
	@echo "== the suite on PostgreSQL"
	$(PRIVATE_POSTGRES) run $(PY) -m pytest
PRIVATE_POSTGRES := speedrank/scripts/private_postgres.sh

# Everything that does not start servers of its own (the Redis-facing and API suites), and the
# cluster's failover tests, on a loopback Redis Cluster of 3 masters and 3 replicas.
test-cluster: install
	@echo "== the suite on a Redis Cluster"
	$(REDIS_CLUSTER_SCRIPT) run $(PY) -m pytest -m "not server or cluster"
REDIS_CLUSTER_SCRIPT := speedrank/scripts/redis_cluster.sh

# The suite without the tests that start servers of their own: a quicker loop while working.
test-fast: install lint
	$(PY) -m pytest -m "not server"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

sync-redis: install
	$(PY) manage.py sync_redis

check-redis: install
	$(PY) manage.py sync_redis --check

bench: install
	$(PY) benchmarks/bench_reads.py --players $(BENCH_PLAYERS)

# wrk is the load generator: Debian's package, installed here when missing.
INSTALL_WRK = @command -v wrk >/dev/null || { \
	  echo "installing wrk"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

bench-http: install $(if $(filter postgres,$(BENCH_HTTP_DATABASE)),postgresql)
	$(INSTALL_WRK)
	$(PY) benchmarks/bench_http.py --players $(BENCH_HTTP_PLAYERS) --baseline $(or $(BENCH_BASELINE),none) \
	  --database $(BENCH_HTTP_DATABASE) \
	  $(if $(BENCH_HTTP_SCENARIOS),--scenarios $(BENCH_HTTP_SCENARIOS))

bench-scale: install
	$(PY) benchmarks/bench_scale.py --sizes $(BENCH_SCALE_SIZES) --sharded $(BENCH_SCALE_SHARDED)

# bench-export: the export job's time and peak memory at BENCH_EXPORT_SIZES players.
BENCH_EXPORT_SIZES ?= 100000,1000000
bench-export: install
	$(PY) benchmarks/bench_export.py --sizes $(BENCH_EXPORT_SIZES)

# bench-seasons: closing a period, and reads of the closed one, at BENCH_SEASONS_SIZES players.
BENCH_SEASONS_SIZES ?= 10000,100000,1000000
bench-seasons: install
	$(PY) benchmarks/bench_seasons.py --sizes $(BENCH_SEASONS_SIZES)

bench-live: install
	$(INSTALL_WRK)
	$(PY) benchmarks/bench_live.py --subscribers $(BENCH_LIVE_SUBSCRIBERS) --writes $(BENCH_LIVE_WRITES) \
	  --rooms $(BENCH_LIVE_ROOMS) --actions $(BENCH_LIVE_ACTIONS) --rest-idle $(BENCH_LIVE_IDLE) \
	  --idle $(BENCH_LIVE_MEMORY_SOCKETS)

loadtest: install
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	$(VENV)/bin/locust -f benchmarks/locustfile.py --headless \
	  --host $${LOADTEST_HOST:-http://127.0.0.1:8000} --users $${LOADTEST_USERS:-500} \
	  --spawn-rate $${LOADTEST_SPAWN_RATE:-100} --run-time $${LOADTEST_TIME:-60s} --only-summary \
	  $$([ -n "$${LOADTEST_STATS_FROM_START:-}" ] || echo --reset-stats)

clean:
	rm -rf $(VENV) .pytest_cache
