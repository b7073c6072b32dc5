#!/usr/bin/env bash
# README command 1: set up .venv (if needed) and run the main analysis on the shipped panel:
# validate and identify every model file, then fit the shipped mediation model and print
# its effects table. Extra arguments go to `embedcausal fit` (e.g. --draws 500).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
embedcausal check models/*.toml
embedcausal identify models/*.toml
OUT="${EMBEDCAUSAL_OUT:-runs/main}"
embedcausal fit models/full.toml --out "$OUT" --overwrite "$@"
