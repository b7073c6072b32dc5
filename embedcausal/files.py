"""Atomic file writes: nothing embedcausal writes is ever seen half-written.

Every output file is written to a temporary sibling (``.NAME.tmp-PID-HEX``: in the same
directory, so the final move is atomic; without the target's suffix, so a glob for finished
files such as ``*.nc`` never matches one) and moved into place with :func:`os.replace`; on any
error the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path


def temp_sibling(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path``; writers must name the format explicitly."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then move it onto ``path``.

    Returns the final path. The temporary file never survives, whether ``write`` succeeds,
    raises or is interrupted.
    """
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def make_parents(path: str | os.PathLike) -> list[Path]:
    """Create the missing parent directories of ``path``; return those created, outermost first.

    Raises OSError (with nothing left behind) when one cannot be created.
    """
    path = Path(path)
    missing = [p for p in path.parents if not p.exists()][::-1]
    created: list[Path] = []
    try:
        for d in missing:
            d.mkdir()
            created.append(d)
    except BaseException:
        remove_empty(created)
        raise
    return created


def remove_empty(directories: list[Path]) -> None:
    """Remove ``directories`` (innermost last in the list) where they are still empty."""
    for d in reversed(directories):
        with contextlib.suppress(OSError):
            d.rmdir()
