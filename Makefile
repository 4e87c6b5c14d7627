# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
ARGS   ?=

.PHONY: run test test-fast smoke wheel clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(PIP) install -e . 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import sweep, ray" && touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e ".[test,boost]" 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import pytest, hypothesis, lightgbm, xgboost" && touch $@

run: $(VENV)/.installed
	$(VENV)/bin/sweep run $(ARGS)

smoke: $(VENV)/.installed
	$(VENV)/bin/sweep run --smoke $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest $(ARGS)

# Every test that starts no Ray (about 1.5 minutes on 2 cores): the loop while you change code.
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow" $(ARGS)

# The project's wheel for cluster nodes (cluster/*.yaml, cluster/Dockerfile): never from an index.
wheel: $(VENV)/.installed
	$(PIP) wheel --no-deps -w dist . 2>&1 | grep -v "is ignored" || true
	ls dist/sweep_frontier-*.whl

clean:
	rm -rf runs data .pytest_cache
