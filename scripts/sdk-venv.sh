#!/usr/bin/env bash
# Creates .venv-sdk/ with the official `openai` and `anthropic` Python SDKs pinned in
# sdk-tests/requirements.txt; gateway/tests/sdk.rs runs sdk-tests/clients.py with it.
# Usage: scripts/sdk-venv.sh      (idempotent; needs python3 with venv and PyPI)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv-sdk
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/sdk-tests/requirements.txt"
"$VENV/bin/python" -c 'import openai, anthropic; print(f"sdk venv ready: openai {openai.__version__}, anthropic {anthropic.__version__}")'
