#!/usr/bin/env bash
# Set up a fresh clone: Fashion-MNIST from Debian's package, and pandoc and WeasyPrint to print the
# report (when apt is there), then a virtual environment in .venv with the locked dependencies
# (requirements.lock, made by pip-compile from pyproject.toml) and this project. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install WHAT PACKAGE...: best effort, each group on its own, so one missing package spares the rest.
apt_install() {
  local what=$1; shift
  command -v apt-get >/dev/null || { echo "setup: no apt-get: $what" >&2; return 0; }
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@"; } || echo "setup: could not install $*: $what" >&2
}
[ -d /usr/share/datasets/fashion-mnist ] \
  || apt_install "the data stage will try torchvision's download" dataset-fashion-mnist
{ command -v pandoc && command -v weasyprint; } >/dev/null \
  || apt_install "the report is written, but not printed to PDF" pandoc weasyprint

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
echo "setup: done; activate with '. .venv/bin/activate'"
