# Fresh machine, two commands: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PEERS := .peers
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: install peers demo test lint typecheck pytest bench plan clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[infra,aws,azure,gcp,cache,local,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Test peers that are not Python packages: cloud-init (Debian) validates user data, Azurite
# (npm) emulates Azure Storage. moto's server comes with the dev extra.
peers: $(PEERS)/.azurite
	@command -v cloud-init >/dev/null || { \
	  echo "installing cloud-init (Debian) for user-data schema checks"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cloud-init) >/dev/null; }

$(PEERS)/.azurite:
	mkdir -p $(PEERS)
	npm install --silent --no-audit --no-fund --prefix $(PEERS) azurite@3 >/dev/null
	touch $@

demo: install
	$(BIN)/agentfleet local demo

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# Tests marked `alone` time real fleets against the simulator's prediction: they run after the
# rest, one at a time, so another test's load does not stretch what they measure.
pytest: install peers
	PATH="$(CURDIR)/$(PEERS)/node_modules/.bin:$$PATH" $(BIN)/pytest -n 2 -q -m "not alone"
	PATH="$(CURDIR)/$(PEERS)/node_modules/.bin:$$PATH" $(BIN)/pytest -q -m alone

test: lint typecheck pytest

bench: install
	$(BIN)/agentfleet bench

plan: install
	$(BIN)/agentfleet plan --stack dev

clean:
	rm -rf $(VENV) $(PEERS) .mypy_cache .pytest_cache
