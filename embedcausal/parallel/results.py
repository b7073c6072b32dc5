"""Reading a grid's results: :class:`GridResult`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from embedcausal.errors import EmbedcausalError, RunError
from embedcausal.parallel.store import POINTS, read_grid_json


@dataclass
class GridResult:
    """Where a grid's results are and which points this call computed.

    Attributes
    ----------
    out_dir : Path
        The run directory (``grid.json`` and ``points/<key>.nc``).
    keys : list of str
        Every point's key, in grid order.
    computed : list of str
        Keys fitted by this call, in grid order.
    skipped : list of str
        Keys whose finished file was found on disk and reused (``resume=True``).

    Examples
    --------
    >>> result = GridResult.open("runs/sweep")  # doctest: +SKIP
    >>> result.missing, result.load("t0.5_y1")  # doctest: +SKIP
    """

    out_dir: Path
    keys: list[str]
    computed: list[str]
    skipped: list[str]

    @classmethod
    def open(cls, out_dir: str | Path) -> GridResult:
        """Open a grid directory written by :func:`run_grid` (finished or not).

        ``computed`` is empty and ``skipped`` lists the points whose file exists.

        Raises
        ------
        RunError
            If ``out_dir/grid.json`` is missing or unreadable.
        """
        out = Path(out_dir)
        grid = read_grid_json(out)
        keys = [k for k, _ in grid["points"]]
        return cls(out, keys, [], [k for k in keys if (out / POINTS / f"{k}.nc").is_file()])

    @property
    def missing(self) -> list[str]:
        """Keys without a finished file (failed or not run yet), in grid order."""
        return [k for k in self.keys if not self.path(k).is_file()]

    def path(self, key: str) -> Path:
        """File of one point's result."""
        if key not in self.keys:
            shown = ", ".join(self.keys[:5]) + (" …" if len(self.keys) > 5 else "")
            raise EmbedcausalError(
                f"{self.out_dir}: no grid point {key!r}; expected one of: {shown or '(none)'}"
            )
        return self.out_dir / POINTS / f"{key}.nc"

    def load(self, key: str) -> xr.Dataset:
        """The result of one point, loaded into memory (the file is closed).

        Raises
        ------
        EmbedcausalError
            If ``key`` is not in the grid.
        RunError
            If the point has no finished file (it failed or has not run).
        """
        path = self.path(key)
        if not path.is_file():
            raise RunError(
                f"{path}: grid point {key!r} has no result (it failed or has not run); "
                "rerun with resume=True (CLI: --resume) to compute it"
            )
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()

    def datasets(self) -> dict[str, xr.Dataset]:
        """Every point's result, by key, in grid order (see :meth:`load`)."""
        return {k: self.load(k) for k in self.keys}
