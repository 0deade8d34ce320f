# One task runner for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo
# Made-up ids for the sandbox: the demo never talks to the real Captorra.
DEMO_ENV := CAPTORRA_ID=123456 CAPTORRA_REFERRER=123e4567-e89b-12d3-a456-426655440000

.PHONY: help venv demo test test-all lint typecheck bench clean dist test-dist

help:
	@echo "make demo      set up .venv and import sample_data/ into the built-in sandbox"
	@echo "make test      lint (ruff), type check (mypy) and the test suite"
	@echo "make test-all  the above plus the slow reliability tests"
	@echo "make bench     the benchmarks (a few minutes), written to benchmarks/results.json"
	@echo "make dist      the one-file program dist/captorra-import (PyInstaller, about 8 minutes)"
	@echo "make test-dist build it, then smoke-test it from an empty environment"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Exit code 1 only means some sample rows are deliberately invalid.
demo: $(STAMP)
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(DEMO_ENV) $(BIN)/captorra-import run sample_data/acme_leads.xlsx \
	    --mapping mappings/example.yaml --sandbox --journal $(DEMO)/journal.sqlite3 \
	    --output $(DEMO)/acme_leads.results.xlsx || test $$? -eq 1
	$(DEMO_ENV) $(BIN)/captorra-import run sample_data/lakeside_leads.csv \
	    --mapping mappings/lakeside.yaml --sandbox --journal $(DEMO)/journal.sqlite3 \
	    --output $(DEMO)/lakeside_leads.results.xlsx || test $$? -eq 1
	@echo "Open the results workbooks in $(DEMO)/ to see the status of every row."

lint: $(STAMP)
	$(BIN)/ruff check importer tests benchmarks
	$(BIN)/ruff format --check importer tests benchmarks

# The same code must type-check for every system it ships to: Windows lacks fcntl & co.
typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --platform win32 --cache-dir .mypy_cache/win32
	$(BIN)/mypy --platform darwin --cache-dir .mypy_cache/darwin

test: lint typecheck
	$(BIN)/pytest -m "not slow and not dist" -q

test-all: lint typecheck
	$(BIN)/pytest -m "not dist" -q

DIST_STAMP := $(VENV)/.dist-installed

$(DIST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,dist]'
	@touch $(DIST_STAMP)

# One file that needs nothing installed (.exe on Windows); build/ holds PyInstaller's work.
dist: $(DIST_STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN \
	    --workpath build/pyinstaller --distpath dist packaging/captorra-import.spec
	@ls -l dist/

test-dist: dist
	$(BIN)/pytest -m dist -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out build dist .mypy_cache .ruff_cache .pytest_cache
