"""``python -m embedcausal.cli``: the ``embedcausal`` command."""

import sys

from embedcausal.cli.app import main

sys.exit(main())
