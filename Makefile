# The two commands of the README: `make run` and `make test`. Each creates or reuses
# .venv and installs what it needs first.
PYTHON ?= python3
VENV := .venv
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

run:
	@PYTHON=$(PYTHON) scripts/venv.sh run
	$(VENV)/bin/tidings serve

test:
	@PYTHON=$(PYTHON) scripts/venv.sh test
	@scripts/system-deps.sh
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint:
	@PYTHON=$(PYTHON) scripts/venv.sh test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
