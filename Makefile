# warroom — `make run` opens the console, `make test` brings up the lab and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint typecheck unit lab-up lab-down lab-status bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Our own packages compiled to bytecode: where PYTHONDONTWRITEBYTECODE is set,
# Python would otherwise compile every module from source at every start (0.2 s).
# (The same packages as bench/common.py's PACKAGES, which the bench compiles.)
install: $(STAMP)
	$(BIN)/python -m compileall -q core tui widgets themes

run: install
	$(BIN)/warroom $(ARGS)

lab-up:
	bash lab/lab.sh up

lab-down:
	bash lab/lab.sh down

lab-status:
	bash lab/lab.sh status

lint: install
	$(BIN)/ruff check core tui widgets themes tests bench
	$(BIN)/mypy

test: install lab-up lint
	. lab/.state/env && $(BIN)/python -m pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest -m 'not lab' $(PYTEST_ARGS)

bench: install lab-up
	. lab/.state/env && $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
