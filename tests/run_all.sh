#!/usr/bin/env bash
# Installs what the tests need (system packages and the project in .venv) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv 2>/dev/null || {
    rm -rf .venv
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  }
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[geo,test]'

# Keep compiled modules (__pycache__): the suite starts hundreds of Python processes (servers, commands, demos) and
# pytest rewrites the asserts of every test module; where PYTHONDONTWRITEBYTECODE is set (some images set it), each of
# them compiled everything again (collecting the tests took 15 s of CPU in each worker instead of 5).
unset PYTHONDONTWRITEBYTECODE

set +e
.venv/bin/python -m pytest -q -n 4 --dist worksteal "$@"  # four worker processes on two cores: many tests wait on servers, browsers and clocks; an idle worker takes queued tests from the others
status=$?
set -e
# exit 5: the selection held no test (e.g. a -k filter); not a failure of the code
[ $status -eq 5 ] && { echo "no tests selected"; exit 0; }
exit $status
