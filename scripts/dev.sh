#!/usr/bin/env bash
# gdstudio's two Quick-start commands (see README.md):
#   bash scripts/dev.sh app   [gdstudio args...]  set up what is missing, then launch the window
#   bash scripts/dev.sh test  [pytest args...]    set up what is missing (system packages too when
#                                                 run as root), run the static checks (ruff, mypy,
#                                                 import-linter: any failure fails the command), then
#                                                 the whole test suite under a virtual display (Xvfb,
#                                                 started by pytest-xvfb)
# Environment: PYTHON (default python3, needs 3.11+), GDSTUDIO_VENV (default .venv in the repo),
# GDSTUDIO_SKIP_CHECKS=1 (test: pytest only, for a quick local run; CI never sets it).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
VENV=${GDSTUDIO_VENV:-$ROOT/.venv}
MODE=${1:-app}
[ $# -gt 0 ] && shift

say() { printf 'gdstudio setup: %s\n' "$*" >&2; }

# Debian/Ubuntu packages Qt's xcb platform + Mesa OpenGL need (measured on Debian 12); the tests
# also need Xvfb for a virtual display. python3-venv is added when the interpreter lacks venv.
APP_PACKAGES=(libgl1 libgl1-mesa-dri libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0
  libxcb-shape0)
TEST_PACKAGES=("${APP_PACKAGES[@]}" xvfb)

system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    [ "$MODE" = test ] && exit 1
  fi
}

python_env() {
  local extra=$1
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "gdstudio needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1 || echo missing))"
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || system_packages python3-venv
    say "creating a virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml (the dependency list) changed since the last install.
  local stamp="$VENV/.gdstudio-$extra" want
  want=$(cat pyproject.toml | cksum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing gdstudio and its dependencies ($extra)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    if [ "$extra" = test ]; then
      "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
    else
      "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e .
    fi
    echo "$want" > "$stamp"
  fi
}

# ruff, mypy (strict on engine/ and model/, plain on the rest: [tool.mypy] in pyproject.toml) and
# import-linter (the layer and Qt-free contracts: [tool.importlinter]). All three run, so one pass
# shows every failure; then a non-zero status if any failed.
static_checks() {
  local failed=()
  say "ruff check ."
  "$VENV/bin/ruff" check . || failed+=(ruff)
  say "mypy"
  "$VENV/bin/mypy" || failed+=(mypy)
  say "lint-imports"
  "$VENV/bin/lint-imports" --no-cache || failed+=(import-linter)
  if [ ${#failed[@]} -gt 0 ]; then
    say "static checks failed: ${failed[*]}"
    return 1
  fi
}

case "$MODE" in
  app)
    system_packages "${APP_PACKAGES[@]}"
    python_env app
    exec "$VENV/bin/python" main.py "$@"
    ;;
  test)
    system_packages "${TEST_PACKAGES[@]}"
    python_env test
    if [ "${GDSTUDIO_SKIP_CHECKS:-0}" != 1 ]; then
      static_checks || exit 1
    fi
    # pytest-xvfb starts Xvfb (1920x1080x24, see pyproject) so Qt uses the real xcb platform + Mesa.
    unset QT_QPA_PLATFORM
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh app|test [args...]" >&2
    exit 2
    ;;
esac
