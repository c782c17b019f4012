# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := $(CURDIR)/demo/pigment.db

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo && mkdir -p demo && chmod 700 demo
	$(BIN)/pigment init --db $(DEMO_DB) --policy examples/policy.toml
	$(BIN)/python examples/seed_demo.py --db $(DEMO_DB) > demo/shown-subject
	$(BIN)/pigment subject list --db $(DEMO_DB)
	$(BIN)/pigment subject show "$$(cat demo/shown-subject)" --db $(DEMO_DB)
	@echo "Demo store: $(DEMO_DB)  (try: export PIGMENT_DB=$(DEMO_DB))"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run

clean:
	rm -rf $(VENV) demo .pytest_cache
