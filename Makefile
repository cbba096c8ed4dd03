# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8501
export ORT_DISABLE_TELEMETRY := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test install bench

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) is required (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@command -v bwrap >/dev/null 2>&1 || echo "note: install Debian's bubblewrap (apt-get install bubblewrap) so jobs run in their own namespaces; 'trimline doctor' lists the sandbox layers"
	touch $(STAMP)

install: $(STAMP)

## Install, migrate, then start one worker and the dashboard on http://$(HOST):$(PORT). Ctrl-C stops both.
run: $(STAMP)
	$(VENV)/bin/trimline up --host $(HOST) --port $(PORT)

## Install and run the whole test suite (browser tests need Debian's chromium; .ci/run installs it).
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not timing" --durations=25
	$(PY) -m pytest -q -m timing

## Benchmarks that print figures side by side (MobileNetV2 224x224 and the digits CNN).
bench: $(STAMP)
	$(PY) bench/run_bench.py
	$(PY) bench/passes_bench.py
	$(PY) bench/catalogue_bench.py
	$(PY) bench/auto_bench.py
	$(PY) bench/serving_bench.py
