# Two commands do all the set-up on a fresh machine:
#   make run SOURCE=rtsp://user:pass@camera/stream   (or SOURCE=0, or SOURCE=video.mp4)
#   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOURCE ?=
ARGS ?=

.PHONY: run test test-fast lint typecheck system-deps venv-run venv-dev venv-detectron2 clean

# Detectron2 is not on PyPI. Built from the official source copied beside the checkout
# (../shared/vendor, offline), else from the same commit on GitHub.
DETECTRON2_COMMIT := 02b5c4e295e990042a714712c21dc79b731e8833
DETECTRON2_SRC ?= $(or $(firstword $(wildcard ../shared/vendor/detectron2-*.tar.gz)),git+https://github.com/facebookresearch/detectron2.git@$(DETECTRON2_COMMIT))
PIP := $(BIN)/pip install -q -c constraints.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The runtime environment: the service with the CPU pose backend.
$(VENV)/.run-stamp: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[mediapipe]'
	touch $@

# Everything the tests use: all backends, training and the dev tools.
$(VENV)/.dev-stamp: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[mediapipe,torchvision,train,dev]'
	touch $@ $(VENV)/.run-stamp

# Detectron2 built against the venv's torch (CPU ops here, CUDA ops where CUDA is present): about
# 90 s plus its dependencies, so the stamp keeps it for later runs. --no-build-isolation: it must see
# that torch; setuptools<81 stays beside it for model_zoo's pkg_resources.
$(VENV)/.detectron2-stamp: constraints.txt | $(VENV)/.dev-stamp
	$(PIP) 'setuptools<81' wheel ninja
	MAX_JOBS=$${MAX_JOBS:-2} $(PIP) --no-build-isolation '$(DETECTRON2_SRC)'
	$(BIN)/python -W ignore -c 'import mediapipe, detectron2; from detectron2 import model_zoo'
	touch $@

venv-run: $(VENV)/.run-stamp
venv-dev: $(VENV)/.dev-stamp
venv-detectron2: $(VENV)/.detectron2-stamp

system-deps:
	bash scripts/install-system-deps.sh

run: venv-run
	@if [ -z "$(SOURCE)$(CONFIG)" ]; then echo "usage: make run SOURCE=<rtsp://... | webcam index | /dev/videoN | video file> | CONFIG=<file.yaml> [ARGS='...']" >&2; exit 2; fi
	@$(BIN)/actionstream serve $(if $(CONFIG),--config '$(CONFIG)',--source '$(SOURCE)') $(ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv-dev
	$(BIN)/mypy

# The whole suite, slow tests included: this is what CI runs.
test: system-deps venv-dev venv-detectron2 lint typecheck
	$(BIN)/python -m pytest $(ARGS)

# The quick loop while developing: no slow tests, no lint.
test-fast: venv-dev venv-detectron2
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
