# SpeedRank: `make run` serves the API, `make test` runs the suite. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHONS := python3.13 python3.12 python3.11 python3
LOCAL_REDIS := speedrank/scripts/local_redis.sh
BENCH_PLAYERS ?= 1000000

.PHONY: help install redis-server migrate run dev test bench loadtest sync-redis check-redis redis-start redis-stop clean

help:
	@echo "make run        install what is missing, migrate, serve with gunicorn on HOST:PORT (127.0.0.1:8000)"
	@echo "make dev        the same with Django's autoreloading runserver"
	@echo "make test       install what is missing and run the whole test suite"
	@echo "make bench      SQL vs Redis reads and sync_redis at BENCH_PLAYERS players (default 1,000,000)"
	@echo "make loadtest   Locust, headless, against LOADTEST_HOST (default http://127.0.0.1:8000)"

install: $(STAMP) redis-server

$(PY):
	@py=""; for candidate in $(PYTHONS); do \
	  if command -v $$candidate >/dev/null && $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then py=$$candidate; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "SpeedRank needs Python 3.11 or newer; none found on PATH." >&2; exit 1; fi; \
	if ! $$py -m venv $(VENV) 2>/dev/null; then \
	  echo "installing python3-venv"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  rm -rf $(VENV); $$py -m venv $(VENV); \
	fi

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }

migrate: install
	$(PY) manage.py migrate --noinput

redis-start: redis-server
	@$(LOCAL_REDIS) start

redis-stop:
	@$(LOCAL_REDIS) stop

# Without REDIS_URL, serve against a redis-server of our own under var/, and stop it on exit.
run: migrate
	@if [ -n "$$REDIS_URL" ]; then exec $(VENV)/bin/gunicorn -c speedrank/gunicorn.conf.py speedrank.wsgi; fi; \
	started=$$($(LOCAL_REDIS) start); echo "$$started"; \
	case "$$started" in started*) trap '$(LOCAL_REDIS) stop' EXIT INT TERM;; esac; \
	$(VENV)/bin/gunicorn -c speedrank/gunicorn.conf.py speedrank.wsgi

dev: migrate
	@[ -n "$$REDIS_URL" ] || $(LOCAL_REDIS) start
	$(PY) manage.py runserver $${HOST:-127.0.0.1}:$${PORT:-8000}

test: install
	$(PY) -m pytest

sync-redis: install
	$(PY) manage.py sync_redis

check-redis: install
	$(PY) manage.py sync_redis --check

bench: install
	$(PY) benchmarks/bench_reads.py --players $(BENCH_PLAYERS)

loadtest: install
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	$(VENV)/bin/locust -f benchmarks/locustfile.py --headless \
	  --host $${LOADTEST_HOST:-http://127.0.0.1:8000} --users $${LOADTEST_USERS:-500} \
	  --spawn-rate $${LOADTEST_SPAWN_RATE:-100} --run-time $${LOADTEST_TIME:-60s} --only-summary

clean:
	rm -rf $(VENV) .pytest_cache
