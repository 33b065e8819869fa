#!/usr/bin/env bash
# One entry point for a fresh machine:
#   scripts/dev.sh app    installs everything and starts the app on http://localhost:8501
#   scripts/dev.sh test   installs everything (Chromium too, where missing) and runs the tests
# The virtual environment lives outside the project folder (Streamlit's file watcher would flood on it):
# $DETECTOR_VENV, by default ~/.cache/deepfake-checker/venv.
set -euo pipefail

project=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DETECTOR_VENV:-$HOME/.cache/deepfake-checker/venv}
command=${1:-}
shift || true

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)'; then
  echo "Python 3.11 or 3.12 is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.12" >&2
  exit 1
fi

install() {
  local requirements=$1
  if [ ! -x "$venv/bin/python" ]; then
    echo "creating a virtual environment in $venv"
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$project/$requirements"
  "$venv/bin/python" "$project/scripts/check_environment.py"
}

install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "installing Debian's chromium for the real-browser test"
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null; then
    echo "could not install chromium (no root?): the real-browser test will be skipped" >&2
  fi
}

case "$command" in
  app)
    install requirements.txt
    cd "$project"
    exec "$venv/bin/python" -m streamlit run streamlit_app.py "$@"
    ;;
  test)
    install requirements-dev.txt
    install_chromium
    cd "$project"
    "$venv/bin/python" -m ruff check .
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh app|test [extra arguments for streamlit or pytest]" >&2
    exit 2
    ;;
esac
