# Two entry points: `make run` (product on the embedded default) and `make test` (whole suite).
# Both are idempotent: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run check test bench load compose-check clean web

WEB_DIST := src/audiodas/web/static/dist/edge-worker.js
WEB_SOURCES := $(wildcard web/src/*.js) web/build.mjs web/package-lock.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

# The web app bundle (Node.js at set-up only) and the browser model (built once, cached in data/).
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(WEB_DIST): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web: $(WEB_DIST) $(VENV)/.installed
	$(BIN)/audiodas models build-web --if-missing

# The speaker encoder's weights (speaker labels), read from resemblyzer's wheel into the venv.
SPEAKER_MODEL := $(VENV)/share/audiodas/speaker-encoder.npz
$(SPEAKER_MODEL): $(VENV)/.installed
	$(BIN)/audiodas models speakers

run: $(VENV)/.installed $(SPEAKER_MODEL) web
	$(BIN)/audiodas serve

# After every edit: lint, the declared dependencies (deptry: every module the package imports is
# declared, none only in an extra for tests), the layers' import rules (lint-imports), then the
# unit, integration and in-process API tiers (no server, no model; PostgreSQL is started when
# its binaries are there) on two pytest workers: under a minute warm.
FAST_TIERS := tests/unit tests/integration tests/api
TEST_JOBS ?= 2
check: $(VENV)/.installed-test $(SPEAKER_MODEL)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/deptry src
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist worksteal $(FAST_TIERS) $(PYTEST_ARGS)

# The whole suite (every tier, then the end-to-end tests marked `database` again with every
# server on PostgreSQL). What .ci/run runs. Two pytest workers (TEST_JOBS): most end-to-end
# tests wait on servers, processes and the browser, so the second core is otherwise half idle.
test: $(VENV)/.installed-test $(SPEAKER_MODEL) web
	bash scripts/test-system-deps.sh
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/deptry src
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_JOBS) --dist worksteal $(PYTEST_ARGS)
	$(BIN)/pytest -n $(TEST_JOBS) --dist worksteal --database=postgresql $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/ingest_and_range.py
	$(BIN)/python bench/workers.py

# 1000 users against `audiodas serve` and nginx in the same run (installs nginx and wrk).
load: $(VENV)/.installed-bench web
	$(BIN)/python bench/load/run.py $(LOAD_ARGS)

# The container deployment (compose.yaml) for real with podman: build, up, upload, process,
# no restarts, down. Run by .ci/run after `make test`; the first build installs torch in the
# browser-model stage (minutes), later ones are cached.
compose-check: $(VENV)/.installed-test $(SPEAKER_MODEL)
	$(BIN)/python scripts/compose_check.py

# Removes what set-up builds; never the data folder (recordings, database, browser model).
clean:
	rm -rf $(VENV) .venv-build web/node_modules src/audiodas/web/static/dist
