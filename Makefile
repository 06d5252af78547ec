# rollcall: every step a fresh clone needs. Needs only python3.11, make and the package registries.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
GEN := gen
BUILD := build
PROTOS := $(shell find protos/rollcall -name '*.proto' 2>/dev/null)
GOOGLE_PROTOS = $(shell $(PY) -c "import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])")
DEPS_STAMP := $(VENV)/.deps-installed
EDITABLE_STAMP := $(VENV)/.editable-installed
GEN_STAMP := $(GEN)/.generated
NPM_STAMP := node_modules/.installed
SYSTEM_STAMP := $(VENV)/.system-packages

.PHONY: help setup run test test-unit test-integration lint proto buf-lint buf-breaking bench soak clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# Dependencies are installed from pyproject before the editable install, because the editable
# install maps the generated `rollcall` package, which needs protoc from these dependencies first.
$(DEPS_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); print('\n'.join(d['project']['dependencies'] + d['project']['optional-dependencies']['dev']))" > $(VENV)/requirements.txt
	$(BIN)/pip install -q -r $(VENV)/requirements.txt
	touch $@

$(GEN_STAMP): $(PROTOS) $(DEPS_STAMP)
	rm -rf $(GEN) && mkdir -p $(GEN) $(BUILD)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(PY) -m grpc_tools.protoc -Iprotos -I$(GOOGLE_PROTOS) \
	  --python_out=$(GEN) --grpc_python_out=$(GEN) --mypy_out=$(GEN) --mypy_grpc_out=$(GEN) \
	  --descriptor_set_out=$(BUILD)/rollcall.binpb --include_imports --include_source_info \
	  $(patsubst protos/%,%,$(PROTOS))
	find $(GEN)/rollcall -type d -exec touch {}/__init__.py \;
	touch $(GEN)/rollcall/py.typed $@

$(EDITABLE_STAMP): $(GEN_STAMP) pyproject.toml
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests and benchmarks use: chromium (browser tests; Playwright's own browser
# download is never used), docker-compose (validates docker-compose.yml; no engine runs here) and
# wrk (HTTP load for the gateway benchmark).
SYSTEM_PACKAGES := chromium docker-compose wrk
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/docker-compose /usr/bin/wrk
$(SYSTEM_STAMP):
	@missing=""; for tool in $(SYSTEM_TOOLS); do [ -x $$tool ] || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else echo "missing:$$missing -- run: sudo apt-get install $(SYSTEM_PACKAGES)"; exit 1; fi; fi
	touch $@

setup: $(EDITABLE_STAMP) $(NPM_STAMP) $(SYSTEM_STAMP) ## create .venv, install dependencies and tools, generate code (idempotent)

proto: $(GEN_STAMP) ## generate Python code and .pyi stubs from protos/ into gen/

run: $(EDITABLE_STAMP) ## start the emulator (without Zoom credentials), both services and the gateway with a demo school
	$(BIN)/rollcall run

buf-lint: $(GEN_STAMP) $(NPM_STAMP) ## lint rollcall's protos (AIP/buf style)
	node_modules/.bin/buf lint $(BUILD)/rollcall.binpb --config protos/buf.yaml --path rollcall

# Compares the protos with the last commit (BUF_AGAINST), so an uncommitted breaking edit fails
# `make lint`. Both sides are built by protoc, because buf cannot fetch googleapis here.
BUF_AGAINST ?= HEAD
buf-breaking: $(GEN_STAMP) $(NPM_STAMP) ## check the protos for breaking changes against BUF_AGAINST (default HEAD)
	@if git cat-file -e $(BUF_AGAINST):protos/buf.yaml 2>/dev/null; then \
	  rm -rf $(BUILD)/against && mkdir -p $(BUILD)/against && \
	  git archive $(BUF_AGAINST) protos | tar -x -C $(BUILD)/against && \
	  $(PY) -m grpc_tools.protoc -I$(BUILD)/against/protos -I$(GOOGLE_PROTOS) --include_imports --include_source_info \
	    -o $(BUILD)/against.binpb $$(cd $(BUILD)/against/protos && find rollcall -name '*.proto') && \
	  node_modules/.bin/buf breaking $(BUILD)/rollcall.binpb --against $(BUILD)/against.binpb \
	    --config protos/buf.yaml --path rollcall && echo "buf-breaking: no breaking change against $(BUF_AGAINST)"; \
	else echo "buf-breaking: no committed protos at $(BUF_AGAINST) to compare against"; fi

lint: $(EDITABLE_STAMP) buf-lint buf-breaking ## ruff, mypy --strict, import-linter contracts, buf lint and breaking
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: $(EDITABLE_STAMP) ## unit tests only (no I/O)
	$(BIN)/pytest tests/unit

test: setup lint ## everything CI runs: lint, then unit, integration and end-to-end tests
	$(BIN)/pytest tests

bench: setup ## benchmarks; prints ratios measured side by side
	$(PY) -m bench

# The long versions: tests/reliability, schemathesis on the gateway and the 1M-event audit export.
SOAK_TESTS := tests/reliability tests/integration/gateway/test_openapi_fuzzing.py \
  tests/integration/security/test_audit_export_memory.py
soak: setup ## long reliability suites (faults and kills, database restarts, fuzzing, mixed load)
	ROLLCALL_SOAK=1 $(BIN)/pytest -p no:cacheprovider $(SOAK_TESTS)

clean: ## remove generated code and caches (keeps .venv and .rollcall data)
	rm -rf $(GEN) $(BUILD) .mypy_cache .ruff_cache .pytest_cache tests/artifacts

distclean: clean ## also remove .venv, node_modules and local data
	rm -rf $(VENV) node_modules .rollcall
