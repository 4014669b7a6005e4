# Shared by scripts/serve and scripts/test: find Python 3.11+, make .venv, install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python=""
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python=$candidate; break
    fi
  done
  [ -n "$python" ] || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
  "$python" -m venv .venv
fi
target="."
[ -z "${ONECODE_EXTRAS:-}" ] || target=".[${ONECODE_EXTRAS}]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
