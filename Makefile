# judgelab: `make demo` and `make test` are the two commands of the README.
# Everything they need is installed here, from the package registries, into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.judgelab-installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export VLLM_NO_USAGE_STATS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck bench install clean

demo: $(STAMP)
	$(BIN)/judgelab demo

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest tests -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app annotation analysis tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy annotation analysis

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_report.py

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,hf]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
