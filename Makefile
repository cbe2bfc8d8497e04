# clinflow — every install step lives here so a fresh clone with only Python 3.11 works.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-quick lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,kafka,postgres]"
	# Debian's chromium for the browser test of the replay report (root, as on CI machines)
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium; } || \
		echo "chromium not installed: browser tests skip (and fail under CI=true)"
	touch $(STAMP)

## Run the main job: generate a small synthetic cohort and push it through the embedded pipeline.
demo: $(STAMP)
	$(BIN)/clinflow demo

## Run the whole test suite (what .ci/run calls).
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## The quick subset for the edit loop: no slow, broker or PostgreSQL tests.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not broker and not postgres" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache clinflow-data
