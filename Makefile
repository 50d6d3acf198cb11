# Second Look — every command a user or CI needs. `make demo` and `make test` work from a fresh clone
# with only Python 3.11+ and make: they create .venv and install the pinned packages themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data
LANDING ?= $(DATA)/landing
WAREHOUSE ?= $(DATA)/warehouse.duckdb
SITE ?= $(DATA)/site
CASES ?= 20000
SEED ?= 42
# `make demo` owns this folder: it is removed and regenerated on every demo, so demos never pile up.
DEMO := $(DATA)/demo

.PHONY: venv demo run test attack lint browser dev bench notebooks clean report

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing the pinned packages into $(VENV) (a few minutes the first time; pip shows its progress)"
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e ".[dev]"
	@# medspaCy (the ConText reference the tests compare with) pins spaCy < 3.8 below Python 3.12 only
	@if $(BIN)/python -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then \
	  $(BIN)/python -m pip install -q --no-deps "medspacy==1.3.1" "PyRuSH==1.0.13"; fi
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	@echo "make demo: removing $(DEMO)/ and regenerating its landing folder, warehouse and site from nothing"
	rm -rf $(DEMO)
	$(BIN)/secondlook generate --cases $(CASES) --seed $(SEED) --out $(DEMO)/landing --dirty-fraction 0.01 --enrollment
	$(BIN)/secondlook run --landing $(DEMO)/landing --warehouse $(DEMO)/warehouse.duckdb --site $(DEMO)/site

run: venv
	$(BIN)/secondlook run --landing $(LANDING) --warehouse $(WAREHOUSE) --site $(SITE)

# Browser tests and `secondlook report` drive Debian's chromium; the print tests read the PDF with
# poppler's pdftotext and pdfinfo. Installed when missing (needs root, as on CI).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
	  || ! command -v pdftotext >/dev/null 2>&1; then \
	  echo "installing Debian chromium + chromium-driver + poppler-utils"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver poppler-utils >/dev/null; \
	fi

# Style, layers and types: ruff (notebooks included), ruff format, import-linter's contracts
# (pyproject.toml [tool.importlinter]) and mypy on the library, models and dashboards; then every
# data contract against the Open Data Contract Standard's own JSON schema (v3.1.0).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/landing/test_contracts_odcs.py

# One worker per core; each test file goes wholly to one worker (its fixtures are built once).
# The warehouse and attack programmes that several files read are built once per session under a
# file lock (tests/conftest.py). (xdist's loadgroup does not group under pytest 9: not used.)
test: venv browser lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The board pack of the demo's site, as a PDF (needs `make demo` first, and Debian's chromium).
report: venv browser
	$(BIN)/secondlook report --site $(DEMO)/site --out $(DEMO)/board-pack.pdf

# The suppression attack on the issue's three 2,000-case programmes (make test attacks seed 1):
# about 2 minutes per programme on 2 cores.
attack: venv
	SECONDLOOK_ATTACK_SEEDS=1,2,3 $(BIN)/python -m pytest -n 2 --dist load -p no:cacheprovider tests/site/test_attack.py

dev: venv
	@mkdir -p .dagster_home && cp -n pipelines/dagster.yaml .dagster_home/dagster.yaml 2>/dev/null || true
	DAGSTER_HOME=$(CURDIR)/.dagster_home SECONDLOOK_LANDING=$(LANDING) SECONDLOOK_WAREHOUSE=$(WAREHOUSE) \
	  SECONDLOOK_SITE=$(SITE) $(BIN)/dg dev

# 1M cases unless CASES is given on the command line (`make bench CASES=10000000`); the demo's
# default of 20,000 would time nothing worth reading.
bench: venv
	$(BIN)/python bench/run.py $(if $(filter command line,$(origin CASES)),--cases $(CASES))

# Notebooks are jupytext .py sources; JupyterLab opens them as notebooks. They read the released
# snapshot of the warehouse (the demo's unless NOTEBOOK_WAREHOUSE says), never the file a run writes.
NOTEBOOK_WAREHOUSE ?= $(DEMO)/warehouse.duckdb
notebooks: venv
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[notebooks]"
	SECONDLOOK_WAREHOUSE=$(abspath $(NOTEBOOK_WAREHOUSE)) $(BIN)/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/

clean:
	rm -rf $(DATA) .dagster_home
