# syntax=docker/dockerfile:1.7
# Two images from one file:
#   docker build --target cpu -t actionstream:cpu .   (MediaPipe backend; the default target)
#   docker build --target gpu -t actionstream:gpu .   (CUDA: torchvision + Detectron2 Keypoint R-CNN)
# Config and models are mounted: -v ./config:/config:ro -v ./models:/models:ro

ARG CUDA_VERSION=13.0.0
ARG UBUNTU=ubuntu24.04

# ---------------------------------------------------------------- GPU build: torch + Detectron2
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-${UBUNTU} AS gpu-build
# The commit ../shared/vendor holds and `make venv-detectron2` builds.
ARG DETECTRON2_REF=02b5c4e295e990042a714712c21dc79b731e8833
ARG TORCH_CUDA_ARCH_LIST="7.5;8.0;8.6;8.9;9.0"
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.12 python3.12-venv python3.12-dev git build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python3.12 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torchvision on PyPI pairs only with the CUDA build of torch; Detectron2's model_zoo needs
# pkg_resources, which setuptools >= 81 no longer ships.
# Detectron2 is not on PyPI: build it from its official source against that torch.
# constraints.txt: the versions that keep every backend working in one environment.
COPY constraints.txt /tmp/constraints.txt
RUN pip install -c /tmp/constraints.txt "torch==2.15.0" "torchvision==0.29.2" "setuptools==80.9.0" "wheel==0.45.1" "ninja==1.13.0" \
 && FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST}" MAX_JOBS=4 \
    pip install -c /tmp/constraints.txt --no-build-isolation "git+https://github.com/facebookresearch/detectron2.git@${DETECTRON2_REF}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY capture capture
COPY inference inference
COPY service service
COPY training training
# hadolint ignore=DL3013
RUN pip install -c /tmp/constraints.txt ".[torchvision]"

# ---------------------------------------------------------------- GPU runtime
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-${UBUNTU} AS gpu
ENV DEBIAN_FRONTEND=noninteractive PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    TORCH_HOME=/models/torch FVCORE_CACHE=/models/fvcore
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.12 libgl1 libglib2.0-0 ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/actionstream actionstream \
 && mkdir -p /config /models /secrets && chown actionstream /models /secrets
COPY --from=gpu-build /opt/venv /opt/venv
USER 10001
WORKDIR /home/actionstream
VOLUME ["/config", "/models"]
EXPOSE 8080 5556
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=2).status != 200)"]
ENTRYPOINT ["actionstream"]
CMD ["serve", "--config", "/config/config.yaml", "--backend", "auto"]

# ---------------------------------------------------------------- CPU build: MediaPipe backend
FROM python:3.11-slim-bookworm AS cpu-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch (the classifier is a small LSTM); the CUDA build is several GB.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY capture capture
COPY inference inference
COPY service service
COPY training training
# hadolint ignore=DL3013
RUN pip install -c constraints.txt ".[mediapipe]"

# ---------------------------------------------------------------- CPU runtime (default target)
FROM python:3.11-slim-bookworm AS cpu
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/actionstream actionstream \
 && mkdir -p /config /models /secrets && chown actionstream /secrets
COPY --from=cpu-build /opt/venv /opt/venv
USER 10001
WORKDIR /home/actionstream
VOLUME ["/config", "/models"]
EXPOSE 8080 5556
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=2).status != 200)"]
ENTRYPOINT ["actionstream"]
CMD ["serve", "--config", "/config/config.yaml"]
