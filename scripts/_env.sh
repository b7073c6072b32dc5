# Shared set-up for the README's two commands: create or reuse .venv with the
# newest Python >= 3.12 this machine has, and install embedcausal into it.
# Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
    local cand
    for cand in python3.14 python3.13 python3.12 \
        "$HOME"/.pyenv/versions/3.14*/bin/python \
        "$HOME"/.pyenv/versions/3.13*/bin/python \
        "$HOME"/.pyenv/versions/3.12*/bin/python \
        python3; do
        if command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ]; then
            if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
                echo "$cand"
                return 0
            fi
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    if ! PY="$(find_python)"; then
        echo "error: embedcausal needs Python >= 3.12; none found on PATH (python3.12, python3.13, python3)" >&2
        echo "       nor under \$HOME/.pyenv/versions/3.1[2-4]*. Install one and rerun." >&2
        exit 2
    fi
    echo "setting up .venv with $("$PY" --version 2>&1) ($PY)" >&2
    "$PY" -m venv "$VENV"
fi

# Reinstall only when the dependency list changed since the last install.
STAMP="$VENV/.embedcausal-installed"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "installing embedcausal and its dependencies into .venv" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]" >&2
    echo "$WANT" >"$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
