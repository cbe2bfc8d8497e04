# clinflow — every install step lives here so a fresh clone with only Python 3.11 works.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-quick lint bench clean venv dicom-tools browser

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,kafka,postgres]"
	touch $(STAMP)

## Run the main job: generate a small synthetic cohort and push it through the embedded pipeline.
demo: $(STAMP)
	$(BIN)/clinflow demo

## Debian's DICOM validators for the conformance tests (dciodvfy from dicom3tools, dcmtk's
## dcmdump/storescu): installed with apt-get when run as root, else the tests that need them skip.
dicom-tools:
	@if command -v dciodvfy >/dev/null 2>&1 && command -v dcmdump >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dicom3tools dcmtk >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dicom3tools dcmtk >/dev/null 2>&1; } \
	  || echo "dicom-tools: apt-get could not install dicom3tools dcmtk; the dciodvfy tests will skip"; \
	else echo "dicom-tools: no apt-get as root here; the dciodvfy tests will skip"; fi

## Debian's chromium for the browser test of the replay report (root, as on CI machines);
## only the test command needs it, not the demo.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium; } || \
		echo "chromium not installed: browser tests skip (and fail under CI=true)"

## Run the whole test suite (what .ci/run calls): three workers on two cores (a third of the
## suite's time is waiting: brokers, servers, group joins, fsyncs), the broker tests one at a
## time on one of them and the labs (fixed ports) on one.
test: $(STAMP) dicom-tools browser
	$(BIN)/python -m pytest -q -n 3 --dist loadgroup $(PYTEST_ARGS)

## The quick subset for the edit loop: no slow, broker or PostgreSQL tests.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow and not broker and not postgres" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache clinflow-data
