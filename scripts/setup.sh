#!/usr/bin/env bash
# Set up a fresh clone: Fashion-MNIST from Debian's package (when apt is there), then a virtual
# environment in .venv with this project, DVC and the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist; } \
    || echo "setup: could not install dataset-fashion-mnist; the data stage will try torchvision's download" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup: done; activate with '. .venv/bin/activate'"
