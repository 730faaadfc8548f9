# Two commands on a fresh machine (README): `make demo` and `make test`.
# Both create the local virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-study

.PHONY: demo test lint venv clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db init --name demo
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db dyad add D01 --therapist T01 --patient P01
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db dyad add D02 --therapist T01 --patient P02
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db session add D01 1 --date 2025-03-03
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db session add D01 2 --date 2025-03-10 --not-scanned
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db session add D02 1 --date 2025-03-04 --kind interview
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db session lock D01 1 --reason "demo: data checked"
	$(BIN)/studymgr --db $(DEMO_DIR)/study.db status

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
