# The two commands: `make run` and `make test`. Only python3 and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export RECON_DATABASE_URL ?= sqlite:///./var/recon.db
# where `make run` serves: `make run PORT=8001` when 8000 is taken
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/recon db upgrade
	$(BIN)/recon demo --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# every bench at a size that finishes in a few minutes; full sizes: see docs/performance.md
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/ingest.py --repeat 1
	$(BIN)/python bench/ledger.py --lines 200000 --repeat 3
	$(BIN)/python bench/reconcile.py --dossiers 100000 --lines 100000
	$(BIN)/python bench/status_api.py --dossiers 20000 --seconds 4
	$(BIN)/python bench/queue.py --cases 10000 --dossiers 30000 --repeat 20

# requirements.lock: the runtime dependencies the Docker image installs, each pinned with its
# hashes, for Linux x86_64 and Python 3.11 (the image's). pip-tools runs from a throwaway venv,
# never .venv. Pins stay unless pyproject's ranges move them; `make lock LOCK_FLAGS=--upgrade`
# moves every pin to the newest allowed. No index URL is written into the file.
LOCK_VENV ?= /tmp/recon-pip-tools
LOCK_FLAGS ?=
lock:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make lock: needs Python 3.11, the image'"'"'s (PYTHON=python3.11)")'
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--no-emit-trusted-host $(LOCK_FLAGS) --output-file=requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
