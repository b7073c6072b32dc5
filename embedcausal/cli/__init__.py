"""The ``embedcausal`` command.

Conventions shared by every subcommand: ``--json`` prints machine-readable output on stdout;
exit status 0 on success and 2 on bad user input, with a one-line ``error: …`` on stderr (a
traceback only with ``--debug``); long-running steps show a progress bar on a terminal.

``app``
    :func:`build_parser` and :func:`main` (dispatch, exit status).
``conventions``
    JSON output, progress bars, the sampler flags.
``model_commands``, ``simulate_command``, ``run_commands``, ``sensitivity_command``
    check/identify/dag, simulate, fit/effects/compare and sensitivity: one group per module.
``figure_commands``
    plot and report.
"""

from embedcausal.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
