# Sourced by scripts/run and scripts/test: make .venv and install the project when needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
if [ ! -f .venv/.steward-installed ] || [ pyproject.toml -nt .venv/.steward-installed ]; then
    echo "==> installing Steward and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch .venv/.steward-installed
fi
export PATH="$ROOT/.venv/bin:$PATH"
