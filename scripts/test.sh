#!/usr/bin/env bash
# README command 2: set up .venv (if needed) and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the slow studies.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ruff check embedcausal tests bench data/build
ruff format --check embedcausal tests bench data/build
exec python -m pytest "$@"
