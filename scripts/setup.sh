#!/usr/bin/env bash
# Set up a fresh clone: Fashion-MNIST from Debian's package, pandoc and Pango to print the report (when
# apt is there), then a virtual environment in .venv with the locked dependencies (requirements.lock,
# made by pip-compile from pyproject.toml; WeasyPrint among them) and this project. Safe to run again.
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
# WeasyPrint comes from pip (apt's package drags in SciPy, SymPy and Boost); it needs only Pango and HarfBuzz.
libs=$(ldconfig -p 2>/dev/null || true)
{ command -v pandoc >/dev/null && [[ $libs == *libpangoft2-1.0* && $libs == *libharfbuzz-subset* ]]; } \
  || apt_install "the report is written, but not printed to PDF" pandoc libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
echo "setup: done; activate with '. .venv/bin/activate'"
