# One task runner for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo
# Made-up ids for the sandbox: the demo never talks to the real Captorra.
DEMO_ENV := CAPTORRA_ID=123456 CAPTORRA_REFERRER=123e4567-e89b-12d3-a456-426655440000

.PHONY: help venv demo test test-all lint typecheck bench clean

help:
	@echo "make demo      set up .venv and import sample_data/ into the built-in sandbox"
	@echo "make test      lint (ruff), type check (mypy) and the test suite"
	@echo "make test-all  the above plus the slow reliability tests"
	@echo "make bench     the benchmarks (a few minutes), written to benchmarks/results.json"

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

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -m "not slow" -q

test-all: lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
