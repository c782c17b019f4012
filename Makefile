# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := $(CURDIR)/demo/pigment.db

.PHONY: demo test test-fast lint bench clean

# One install for everything: the dev extra includes the demo, fides and backup-encryption extras
# (Faker, PyYAML, pyrage).
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

# Style, the layers of ARCHITECTURE.md (imports point down only), and types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# The same without tests/reliability (crashes, concurrency, big stores): for quick iterations.
test-fast: lint
	$(BIN)/python -m pytest -m "not reliability"

# docs/cli.md from every command's --help (tests/test_docs.py says when it is stale).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/cog -r docs/cli.md

bench: $(STAMP)
	$(BIN)/python bench/run

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .import_linter_cache .ruff_cache
