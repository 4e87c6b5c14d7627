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

# Two passes: the tests that start no Ray spread over every core (pytest-xdist), then the
# ones that start Ray one at a time (two Ray clusters on one small machine only slow each
# other down). A pass that selects nothing (ARGS naming one file, say) is not a failure here;
# .ci/run still fails a run in which no test ran at all.
test: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow" -n auto $(ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m slow $(ARGS) || [ $$? -eq 5 ]

# Every test that starts no Ray (about 40 s on 2 cores): the loop while you change code.
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow" -n auto $(ARGS)

# The project's wheel for cluster nodes (cluster/*.yaml, cluster/Dockerfile): never from an index.
wheel: $(VENV)/.installed
	$(PIP) wheel --no-deps -w dist . 2>&1 | grep -v "is ignored" || true
	ls dist/sweep_frontier-*.whl

clean:
	rm -rf runs data .pytest_cache
