# Two entry points (see README): `make demo` and `make test`. Both create or
# refresh the virtualenv first (tools/bootstrap.sh is a no-op when it is
# up to date).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export MMATTN_VENV := $(abspath $(VENV))
PYTEST_ARGS ?=

.PHONY: env demo test

env:
	@tools/bootstrap.sh

demo: env
	$(PYTHON) tools/run_demo.py

test: env
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)
