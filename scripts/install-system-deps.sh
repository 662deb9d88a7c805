#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, then checks that what the tests use is really
# there: every GStreamer element the test RTSP server (tests/rtsp_server.py) plugs, the RTSP server's
# Python bindings, and the programs the tests run. Installs nothing when all packages are present;
# uses sudo when not run as root. Exits 1 naming the missing element or program and its package.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

packages=(
  # the venv and Detectron2's C++ build (make venv-dev, make venv-detectron2)
  python3 python3-venv python3-dev build-essential git
  # the test RTSP server: GStreamer's gst-rtsp-server, run by /usr/bin/python3 through python3-gi
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-x  # timeoverlay (the pango plugin); only a "recommends" of the others
  # video files, OpenCV's shared libraries
  ffmpeg libgl1 libglib2.0-0
  # a real Prometheus (and promtool) for the metrics, rules and dashboard tests
  prometheus
  # the browser tests (Playwright drives Debian's Chromium)
  chromium fonts-dejavu-core
)

# Program the tests run -> its package.
programs=(
  /usr/bin/python3:python3
  gst-inspect-1.0:gstreamer1.0-tools
  ffmpeg:ffmpeg
  ffprobe:ffmpeg
  prometheus:prometheus
  promtool:prometheus
  /usr/bin/chromium:chromium
  g++:build-essential
)

install_missing() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    return
  fi
  echo "system packages: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

verify() {
  local problems=() entry name pkg
  for entry in "${programs[@]}"; do
    name=${entry%%:*} pkg=${entry#*:}
    command -v "$name" >/dev/null || problems+=("program $name not found (Debian package $pkg)")
  done
  # The elements the test RTSP server plugs, with their packages: the list lives in tests/rtsp_server.py.
  local elements=0
  if command -v gst-inspect-1.0 >/dev/null && [ -x /usr/bin/python3 ]; then
    while read -r name pkg; do
      elements=$((elements + 1))
      gst-inspect-1.0 --exists "$name" || problems+=("GStreamer element $name missing (Debian package $pkg)")
    done < <(/usr/bin/python3 "$here/../tests/rtsp_server.py" --list-elements)
  fi
  if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); \
from gi.repository import GstRtspServer" 2>/dev/null; then
    problems+=("/usr/bin/python3 cannot import GstRtspServer (Debian packages python3-gi gir1.2-gst-rtsp-server-1.0)")
  fi
  if [ ${#problems[@]} -ne 0 ]; then
    printf 'system check FAILED: %s\n' "${problems[@]}" >&2
    echo "install the packages named above (apt-get install <package>) and rerun: make system-deps" >&2
    exit 1
  fi
  echo "system check: $elements GStreamer elements, the RTSP server bindings and ${#programs[@]} programs present"
}

install_missing
verify
