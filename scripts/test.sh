#!/usr/bin/env bash
# README command 2: set up .venv (if needed) and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the slow studies.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# The HTML report is tested in a real headless browser (tests/test_report.py): install
# Debian's chromium when it is missing and apt is usable (as root, or with sudo without a
# password); the test skips, saying why, only when none can be had.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
    fi
    if [ "$SUDO" != none ]; then
        echo "installing chromium for the report's browser test (apt-get)" >&2
        { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends chromium; } >/dev/null 2>&1 \
            || echo "warning: could not install chromium; the browser test will be skipped" >&2
    fi
fi
ruff check embedcausal tests bench data/build
ruff format --check embedcausal tests bench data/build
exec python -m pytest "$@"
