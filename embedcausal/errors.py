"""Errors raised for bad user input.

Every error that a user can cause by a bad model file, a bad data set or a bad
argument is an :class:`EmbedcausalError`. Its message is one line that names the
file, key or column, the offending value and what was expected. The CLI prints it
as ``error: <message>`` and exits with status 2; anything else is a bug.
"""

from __future__ import annotations


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
