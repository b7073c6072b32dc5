"""Errors raised for bad user input.

Every error that a user can cause by a bad model file, a bad data set or a bad
argument is an :class:`EmbedcausalError`. Its message is one line that names the
file, key or column, the offending value and what was expected. The CLI prints it
as ``error: <message>`` and exits with status 2; anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: characters of a user value echoed in a message at most (the rest is counted, not shown)
MAX_SHOWN = 80


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A user value as a message shows it: ``repr``-like, one line, at most ~``limit`` chars.

    NumPy scalars print as the Python numbers they hold (``2``, not ``np.int64(2)``); a long
    value is cut and its length given (``'xxxx…' (200000 characters)``), so a message stays
    one readable line whatever the input was. Every message that echoes a value from a model
    file, a data file or an argument goes through this helper.
    """
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply to show"
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` on one line (runs of whitespace, newlines included, become one space), capped."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def close_matches(value: object, options: Iterable[object], n: int = 1) -> list[str]:
    """Up to ``n`` options that look like ``value`` (for "did you mean" hints)."""
    return difflib.get_close_matches(str(value)[:1000], [str(o) for o in options], n=n)


def expected(value: object, options: Iterable[object], *, what: str = "one of", n: int = 1) -> str:
    """``"did you mean 'x'? expected one of 'a', 'b'"``: the tail of an unknown-name message."""
    options = sorted(str(o) for o in options)
    close = close_matches(str(value)[:1000], options, n=n)
    hint = f"did you mean {', '.join(map(shown, close))}? " if close else ""
    more = f", … ({len(options)} in all)" if len(options) > 30 else ""
    return f"{hint}expected {what} {', '.join(map(shown, options[:30]))}{more}"


class EmbedcausalError(Exception):
    """Base class for errors caused by user input (exit status 2 in the CLI)."""


class SpecError(EmbedcausalError, ValueError):
    """A model file is invalid.

    Parameters
    ----------
    file : str
        Path of the model file (as given by the user).
    key : str
        Dotted key path inside the file, e.g. ``"estimand.treatment"``; ``""`` for the file itself.
    message : str
        What is wrong, including the bad value and what was expected.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + message)


class DAGError(EmbedcausalError, ValueError):
    """A causal graph is invalid (cycle, unknown node, bad edge, latent node in data...)."""


class DataError(EmbedcausalError, ValueError):
    """A data set does not fit the model file (missing column, wrong type, bad values...)."""


class IdentificationError(EmbedcausalError):
    """An effect asked for is not identified by the DAG and no explicit assumption overrides it."""


class RunError(EmbedcausalError):
    """A saved run directory is missing, incomplete or of an incompatible version."""
