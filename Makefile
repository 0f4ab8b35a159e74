# scrapeguard: every target sets up what it needs (a .venv with pinned packages) first.
# `make help` lists the targets.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian's kcat, the outside Kafka client of the tests and the Kafka benchmark's load generator, and pv, its pacer
KCAT   := 1.7.1-2
PV     := 1.6.20-1
# Debian's Chromium and its WebDriver (the review console's browser tests) and PostgreSQL 15 (its database test)
CHROMIUM   := 156.0.8078.108-1~deb12u1
POSTGRESQL := 15.20-0+deb12u1

.PHONY: help demo stream-demo test lint test-fast bench bench-review quality quality-heldout quality-heldout-3 quality-heldout-4 clean kcat chromium postgresql

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH"; exit 2; }
	@command -v java >/dev/null || { echo "needs Java 17 (java on PATH) for Flink"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)  ## set up, simulate a small labeled sample, run the embedded job, summarise and score the decisions
	$(BIN)/scrapeguard simulate --out out/demo --scenario small --seed 7
	$(BIN)/scrapeguard run --input out/demo/events.jsonl --output out/demo/decisions.jsonl
	$(BIN)/scrapeguard summary --decisions out/demo/decisions.jsonl
	$(BIN)/scrapeguard evaluate --anchors --events out/demo/events.jsonl --labels out/demo/labels.json \
	  --decisions out/demo/decisions.jsonl

stream-demo: $(STAMP)  ## the same sample through a real Kafka broker and the streaming job, then the enforcement view
	infra/stream-demo.sh $(BIN)

test: $(STAMP) kcat chromium postgresql lint  ## set up, lint, and run the whole test suite (unit, doctests, real PyFlink jobs, Kafka, Flink cluster, browser, PostgreSQL)
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff (lint and format) and mypy (strict on detectors/), pinned in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

kcat:  ## install Debian's kcat and pv (pinned) if missing; needs root, else their tests are skipped
	@{ command -v kcat && command -v pv; } >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat=$(KCAT) pv=$(PV) >/dev/null; }
	@{ command -v kcat && command -v pv; } >/dev/null || echo "kcat or pv is not installed (needs root: apt-get install kcat pv); their tests will be skipped"

chromium:  ## install Debian's chromium and chromium-driver (pinned) if missing; needs root, else the browser tests are skipped
	@{ command -v chromium && command -v chromedriver; } >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium=$(CHROMIUM) chromium-driver=$(CHROMIUM) >/dev/null; }
	@{ command -v chromium && command -v chromedriver; } >/dev/null || echo "chromium is not installed (needs root); the browser tests will be skipped"

postgresql:  ## install Debian's PostgreSQL 15 server (pinned) if missing, without a default cluster; needs root, else its test is skipped
	@[ -x /usr/lib/postgresql/15/bin/initdb ] || [ "$$(id -u)" != 0 ] || \
	  { mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold \
	    postgresql-15=$(POSTGRESQL) postgresql-client-15=$(POSTGRESQL) >/dev/null; }
	@[ -x /usr/lib/postgresql/15/bin/initdb ] || echo "PostgreSQL 15 is not installed (needs root); its test will be skipped"

test-fast: $(STAMP)  ## the tests that start no Flink job and no broker
	$(BIN)/python -m pytest -m 'not flink and not kafka'

bench: $(STAMP)  ## every benchmark (`scrapeguard bench`): out/bench/*.json and docs/benchmarks.md (about 20 minutes)
	$(BIN)/scrapeguard bench

bench-review: $(STAMP)  ## review console: latency of the queue page with 10,000 open cases
	$(BIN)/scrapeguard bench review --cases 10000

quality: $(STAMP)  ## detection quality on the default scenario, 3 seeds, beside the two anchors (about 4.5 minutes on 2 cores)
	$(BIN)/python benchmarks/bench_quality.py --scenario default --seeds 1 2 3 --out out/quality

quality-heldout: $(STAMP)  ## the same on a scenario whose scraper and benign parameters were never tuned on
	$(BIN)/python benchmarks/bench_quality.py --scenario benchmarks/scenarios/heldout-2.json --seeds 21 22 23 \
	  --out out/heldout-2

quality-heldout-3: $(STAMP)  ## the same on the scenario written before tuning on spread crawls, heavy users and look-ups
	$(BIN)/python benchmarks/bench_quality.py --scenario benchmarks/scenarios/heldout-3.json --seeds 31 32 33 \
	  --out out/heldout-3

quality-heldout-4: $(STAMP)  ## the same on the scenario written before tuning on fleets of accounts and pools
	$(BIN)/python benchmarks/bench_quality.py --scenario benchmarks/scenarios/heldout-4.json --seeds 41 42 43 \
	  --out out/heldout-4

clean:  ## remove the venv and outputs
	rm -rf $(VENV) out
