# Two commands for a newcomer:
#   make run    start the provider on the embedded default with the demo portal (idp serve --demo)
#   make test   run the whole test suite (what CI runs: .ci/run calls `make test`)
# Both create .venv on first use. Variables: PYTHON (interpreter for the venv, >= 3.11),
# PYTEST_ARGS (extra pytest arguments), IDP_TEST_JOBS (pytest-xdist workers; default 0:
# one process, see README "The two commands"), IDP_TEST_BACKENDS (default "sqlite,postgres").

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
IDP_TEST_JOBS ?= 0

.PHONY: run test services lint clean

run: $(VENV)/.installed-run
	$(BIN)/idp serve --demo

test: $(VENV)/.installed-test
	bash scripts/services.sh all
	$(BIN)/python -m pytest -n $(IDP_TEST_JOBS) $(PYTEST_ARGS)

services:
	bash scripts/services.sh all

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
