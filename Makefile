# Every target sets itself up: the first use creates .venv and installs the pinned dependencies;
# later uses find the stamp and start at once.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-long test-scale-out lint venv clean bench bi-docs dashboards dashboards-build test-dashboards

# The installer's output (and the machine's pip warnings) goes to .venv/install.log, shown only when the install
# fails. uv (pinned, from PyPI) resolves the same pins as pip (same constraints file) in seconds instead of a
# minute or more, which CI pays on every fresh clone; if uv cannot be had, pip installs the same set.
# --compile-bytecode: pip writes the .pyc files at install, uv does not; without them every process compiles the
# ~1,500 modules it imports (2.6 CPU s per extract process where PYTHONDONTWRITEBYTECODE is set, as in CI).
UV_VERSION := 0.13.9
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned dependencies into $(VENV) (log: $(VENV)/install.log)"
	@{ $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) \
		&& UV_NATIVE_TLS=1 $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -c constraints.txt -e ".[test]"; } \
		> $(VENV)/install.log 2>&1 \
		|| { echo "uv failed (see above); installing with pip" >> $(VENV)/install.log; \
		     $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]" \
		     >> $(VENV)/install.log 2>&1; } || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@$(BIN)/python -m opskpi.demo

# The whole suite on every core (pytest-xdist). A module, or the modules that share one session fixture, is one
# unit of work (loadscope, tests/conftest.py), so module- and shared session-scoped fixtures (dbt builds, an Airflow
# deployment, the shared e2e runs) are built once; tests/conftest.py orders the longest first and
# --no-loadscope-reorder keeps that order. Ends with the 15 slowest tests and the total time.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=15 -m "not long and not scale_out" $(TEST_ARGS)

# The longest whole-pipeline runs (marker `long`: the real scheduler's 7-day backfill, SIGKILL trials, overlapping
# runs under injected faults, incremental builds against a full rebuild and past-day replays, the whole-run secret,
# hostile-name and Jira checks), about 17 minutes of work; .ci/run runs them after `make test`.
test-long: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=10 -m "long and not scale_out" $(TEST_ARGS)

# The scale-out tests (marker `scale_out`: tests/scale_out) against real local servers (moto's S3 on loopback,
# Celery workers on Debian's redis-server, PostgreSQL 15 for the marts built by dbt-postgres).
# Their packages (the `scale-out` extra) are installed on first use, with their own stamp, so `make test` does not
# pay for them; .ci/run runs this after `make test-long`.
SCALE_OUT_STAMP := $(VENV)/.installed-scale-out
$(SCALE_OUT_STAMP): $(STAMP) pyproject.toml constraints.txt
	@echo "installing the scale-out extra into $(VENV) (log: $(VENV)/install-scale-out.log)"
	@UV_NATIVE_TLS=1 $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -c constraints.txt \
		-e ".[test,scale-out]" > $(VENV)/install-scale-out.log 2>&1 || { cat $(VENV)/install-scale-out.log; exit 1; }
	@touch $(SCALE_OUT_STAMP)

test-scale-out: $(SCALE_OUT_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=10 -m scale_out $(TEST_ARGS)

# Benchmarks (bench/run.py): not part of `make test`. dlt, the peer, goes into bench/.venv-dlt on first use.
SCALE ?= medium
LATENCY_MS ?= 20
bench: $(STAMP)
	$(BIN)/python -m bench --scale $(SCALE) --latency-ms $(LATENCY_MS) $(BENCH_ARGS)

# Dashboards (docs/bi.md, "Dashboards (Evidence)"): the Evidence project in bi/evidence over the published marts,
# built to static HTML in data/published/dashboards/. Not part of `make demo` or `make test`; its node packages go
# into bi/evidence/node_modules (npm ci, on first use or when the lock file changes), never into .venv.
# In a terminal, `make dashboards` then serves the site on http://127.0.0.1:$(DASHBOARDS_PORT)/ until Ctrl-C (the
# pages load their data over HTTP, so a browser cannot open them from file://); elsewhere (CI, a pipe) it only builds.
DASHBOARDS_PORT ?= 8000
dashboards: dashboards-build
	@if [ -t 1 ] && [ -z "$$CI" ]; then \
	  echo "dashboards: open http://127.0.0.1:$(DASHBOARDS_PORT)/ (Ctrl-C stops the server)"; \
	  python3 -m http.server -d data/published/dashboards --bind 127.0.0.1 $(DASHBOARDS_PORT) >/dev/null 2>&1; \
	fi

dashboards-build:
	@bi/evidence/build-dashboards.sh

test-dashboards: $(STAMP)
	@test -f data/published/opskpi.duckdb || $(MAKE) --no-print-directory demo
	@$(MAKE) --no-print-directory dashboards-build
	OPSKPI_DASHBOARDS_TEST=1 $(BIN)/python -m pytest tests/dashboards $(TEST_ARGS)

# docs/bi.md's tables section, from the published file of `make demo` (checked by tests/e2e/test_daily_run.py).
bi-docs: $(STAMP)
	$(BIN)/python -m opskpi.bi_docs data/published/opskpi.duckdb docs/bi.md

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf data .pytest_cache dbt_project/target dbt_project/logs
