# Both targets do all set-up on a fresh machine: they create .venv (and .venv-checkov) when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
# Some machines' pip config names local indexes that do not exist; their warnings are noise.
QUIET_PIP := 2>&1 | { grep -v '^WARNING: Location' || true; }
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: test drill lint unit integration validate clean bench

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip $(QUIET_PIP)
	$(PY) -m pip install -q -c requirements/constraints.txt -e '.[test,emulator]' $(QUIET_PIP)
	touch $(STAMP)

# checkov's own pins clash with cfn-lint's, so it lives in an environment of its own.
$(CHECKOV_STAMP): requirements/checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements/checkov.txt $(QUIET_PIP)
	touch $(CHECKOV_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks app
	$(VENV)/bin/ruff format --check src tests benchmarks app
	$(VENV)/bin/mypy

# Three processes: the emulator's extension patches moto's backends for the whole process, and the unit tests
# run on plain moto (mock_aws), so they must not share a process with the emulator's tests. The three are
# independent (each emulator picks free ports, pytest's temp folders are per process), so they run at once:
# the emulator and integration suites spend much of their time waiting on sockets and engine processes, which
# the unit suite's CPU work fills. Each suite's output is shown in one piece when it ends (--output-sync).
# `make test TEST_JOBS=1` runs them one after the other. Timing: benchmarks/test_suite.py.
# The integration suite runs as two processes: the DR-cycle tests (the drill and the failback, each on its
# own environment and real engines) beside the rest (the session deployments and what reads them).
TEST_JOBS ?= 4
CYCLE_TESTS := tests/integration/test_drill_emulator.py tests/integration/test_failback_emulator.py
TEST_SUITES := test-unit test-emulator test-integration test-integration-cycle
.PHONY: $(TEST_SUITES)

test: $(STAMP) $(CHECKOV_STAMP) lint
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target $(TEST_SUITES)

test-unit: $(STAMP) $(CHECKOV_STAMP)
	STREAMFLIX_DR_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest tests/unit

test-emulator: $(STAMP)
	$(PY) -m pytest tests/emulator

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration $(addprefix --ignore=,$(CYCLE_TESTS))

test-integration-cycle: $(STAMP)
	$(PY) -m pytest $(CYCLE_TESTS)

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

validate: $(STAMP) $(CHECKOV_STAMP)
	STREAMFLIX_DR_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/streamflix-dr validate

drill: $(STAMP)
	$(VENV)/bin/streamflix-dr drill --emulator

bench: $(STAMP) $(CHECKOV_STAMP)
	STREAMFLIX_DR_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) cfn-outputs reports .pytest_cache .mypy_cache .ruff_cache
