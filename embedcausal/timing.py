"""Wall-clock seconds per phase of a fit (``fit(..., verbose=True)``, ``embedcausal fit -v``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Timer:
    """Wall-clock seconds per phase (``fit(..., verbose=True)`` prints them)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t


def format_timings(timings: dict[str, float]) -> str:
    """``phase: seconds`` lines with the total."""
    total = sum(timings.values())
    lines = [f"  {k:<15} {v:7.2f} s" for k, v in timings.items()]
    return "\n".join(["time by phase:", *lines, f"  {'total':<15} {total:7.2f} s"])
