"""Atomic file writes: nothing embedcausal writes is ever seen half-written.

Every output file is written to a temporary sibling (``.NAME.tmp-PID-HEX``: in the same
directory, so the final move is atomic; without the target's suffix, so a glob for finished
files such as ``*.nc`` never matches one) and moved into place with :func:`os.replace`; on any
error the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

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
