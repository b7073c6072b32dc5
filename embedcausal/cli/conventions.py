"""What every subcommand shares: JSON output, progress bars, the sampler flags, registration.

``--json`` prints machine-readable output on stdout (:func:`emit_json`); long-running steps
show a progress bar on a terminal (:func:`show_progress`); the sampler flags (``--draws``,
``--tune``, ``--chains``, ``--seed``, ``--sampler``) are checked against the model-file schema
and blamed on the flag (:func:`sampler_flags`). Each command group registers its subcommands
through an :data:`AddCommand`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from embedcausal.errors import EmbedcausalError, shown

__all__ = ["SAMPLER_FLAGS", "AddCommand", "emit_json", "sampler_flags", "show_progress"]

#: ``add(name, help, func)``: a subparser with ``--json`` and ``--debug`` that runs ``func``
AddCommand = Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]

#: sampler flags: flag -> (dest in the namespace, key of [sampler])
SAMPLER_FLAGS = {
    "--draws": ("draws", "draws"),
    "--tune": ("tune", "tune"),
    "--chains": ("chains", "chains"),
    "--seed": ("seed", "seed"),
    "--sampler": ("sampler", "backend"),
}


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (:func:`embedcausal.serialize.dumps`)."""
    from embedcausal.serialize import dumps

    print(dumps(obj))


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to show progress bars: on a terminal, and not with ``--json``."""
    return not getattr(args, "json", False) and sys.stderr.isatty()


def sampler_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[sampler]`` settings given as flags, each checked against the model-file schema.

    A bad value is blamed on its flag (``--draws -5``), not on the model file it overrides.
    """
    from pydantic import ValidationError

    from embedcausal.spec import SamplerSection

    out: dict[str, Any] = {}
    for flag, (dest, key) in SAMPLER_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        try:
            SamplerSection.model_validate({key: value})
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            msg = msg.replace("Input should be", "expected a value").replace("Value error, ", "")
            raise EmbedcausalError(
                f"{flag} {shown(value)}: {msg} (it overrides sampler.{key} of the model file)"
            ) from None
        out[key] = value
    return out
