# Two commands do all the set-up on a fresh machine:
#   make run SOURCE=rtsp://user:pass@camera/stream   (or SOURCE=0, or SOURCE=video.mp4)
#   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOURCE ?=
ARGS ?=

.PHONY: run test test-fast lint typecheck system-deps venv-run venv-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The runtime environment: the service with the CPU pose backend.
$(VENV)/.run-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[mediapipe]'
	touch $@

# Everything the tests use: all backends, training and the dev tools.
$(VENV)/.dev-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[mediapipe,torchvision,train,dev]'
	touch $@ $(VENV)/.run-stamp

venv-run: $(VENV)/.run-stamp
venv-dev: $(VENV)/.dev-stamp

system-deps:
	bash scripts/install-system-deps.sh

run: venv-run
	@if [ -z "$(SOURCE)$(CONFIG)" ]; then echo "usage: make run SOURCE=<rtsp://... | webcam index | /dev/videoN | video file> | CONFIG=<file.yaml> [ARGS='...']" >&2; exit 2; fi
	$(BIN)/actionstream serve $(if $(CONFIG),--config '$(CONFIG)',--source '$(SOURCE)') $(ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv-dev
	$(BIN)/mypy

# The whole suite, slow tests included: this is what CI runs.
test: system-deps venv-dev lint typecheck
	$(BIN)/python -m pytest $(ARGS)

# The quick loop while developing: no slow tests, no lint.
test-fast: venv-dev
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
