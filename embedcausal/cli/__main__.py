"""``python -m embedcausal.cli``: the ``embedcausal`` command."""

import sys

from embedcausal.cli.app import main

if __name__ == "__main__":  # importing this module (as tools that walk the package do) runs nothing
    sys.exit(main())
