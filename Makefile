# recours — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed

.PHONY: install chromium demo test check lint format bench lock clean airflow airflow-stop

## install: the virtual environment, from the pinned lock file only
install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

## demo: synthetic Haute-Garonne, then the real Airflow DAGs in-process
demo: install
	$(BIN)/recours demo

## chromium: headless browser for the report tests (Debian package, installed where missing)
chromium:
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		( (apt-get update && apt-get install -y --no-install-recommends chromium) || \
		  (sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium) )

## airflow: Airflow standalone on 127.0.0.1 with the project's DAGs, active from creation, one
## task per core; Ctrl-C (or `make airflow-stop` elsewhere) stops every process (docs/exploitation.md)
airflow: install
	ops/airflow-standalone.sh start

airflow-stop:
	ops/airflow-standalone.sh stop

## test: lint, then the whole test suite on every core (no network needed); one worker per
## core, each test module kept on one worker (--dist loadscope) so that its fixtures are built once
test: install chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto --dist loadscope

## check: the inner loop: lint, then every test not marked slow (real Airflow runs, headless
## Chromium, the 6,000-person worlds), on every core
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto --dist loadscope -m "not slow"

## lint: ruff, the layers contract (dags -> app -> pipelines | synth -> anonymization -> recours,
## pyproject.toml [tool.importlinter]) and the type checker
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the whole département (1.47 M persons), time and memory per stage
bench: install
	$(BIN)/python bench/bench_pipeline.py

## lock: re-resolve the pinned dependencies (needs the package index)
lock: install
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
		--override requirements-overrides.txt -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
