"""What every figure of :mod:`embedcausal.plots` shares: new figures, labels, files, checks.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot (nothing registered
in pyplot's list of figures, no backend switch) with ``layout="constrained"``, so titles, tick
labels and legends placed outside the axes are never clipped; :func:`save_figure` writes them
with ``bbox_inches="tight"`` as well. :func:`clipped_text` lists text that falls outside its
figure (the tests call it on every figure). :func:`thin_posterior` is the evenly thinned
posterior that figures computing from draws (effect curve, predictive checks) start from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcausal.errors import EmbedcausalError
from embedcausal.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: file formats :func:`save_figure` writes (by suffix)
FORMATS = ("png", "svg", "pdf")
#: font sizes (points) used at the default figure sizes
FONT = {"label": 10, "tick": 9, "title": 11, "small": 8}
#: the mechanism effects drawn, in order
EFFECTS = ("total", "nde", "nie")
#: one colour per effect, shared by every figure
EFFECT_COLOURS = {"total": "#1b4f72", "nde": "#b9770e", "nie": "#117a65"}
EFFECT_LABELS = {
    "total": "total effect",
    "nde": "natural direct effect (NDE)",
    "nie": "natural indirect effect (NIE)",
    "prop_mediated": "proportion mediated",
}
#: colours for several runs side by side (colour-blind safe, Okabe–Ito)
RUN_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


class PlotError(EmbedcausalError, ValueError):
    """A figure cannot be drawn from what was given (bad kind, file name, table or axes)."""


def new_figure(figsize: tuple[float, float], **kwargs: Any) -> Figure:
    """A pyplot-free figure with constrained layout (nothing clipped at the edges)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained", **kwargs)


def figure_of(ax: Axes) -> Figure:
    """The top-level :class:`~matplotlib.figure.Figure` of an axes (through sub-figures)."""
    from matplotlib.figure import Figure

    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def axes_for(
    ax: Axes | Sequence[Axes] | None,
    n: int,
    *,
    figsize: tuple[float, float],
    ncols: int | None = None,
    what: str = "this figure",
) -> tuple[Figure, list[Axes]]:
    """``n`` axes: the caller's (one Axes when ``n == 1``, else a sequence of ``n``) or new ones.

    Raises
    ------
    PlotError
        If ``ax`` is not an Axes or a sequence of ``n`` of them.
    """
    from matplotlib.axes import Axes

    if ax is None:
        fig = new_figure(figsize)
        ncols = ncols or n
        nrows = int(np.ceil(n / ncols))
        grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for extra in grid[n:]:
            extra.remove()
        return fig, list(grid[:n])
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        want = "one matplotlib Axes" if n == 1 else f"a sequence of {n} matplotlib Axes"
        raise PlotError(f"{what}: ax = {ax!r}; expected {want}")
    return figure_of(axes[0]), axes


def contrast_text(run: Any) -> str:
    """``"inst_ties 12 → 33"``: the treatment contrast of a run in data units (a categorical
    treatment's level names: ``"arm control → treated"``)."""
    prepared = getattr(run, "prepared", None)  # what plots read of a run may be duck-typed
    if prepared is not None:
        t0, t1 = prepared.contrast_shown
    else:
        t0, t1 = (f"{v:g}" for v in run.contrast)
    return f"{run.spec.estimand.treatment} {t0} → {t1}"


def effect_axis_label(run: Any, *, contrast: bool = True) -> str:
    """``"change in P(participation): inst_ties 12 → 33 (probability scale)"``."""
    out = f"change in P({run.spec.estimand.outcome})"
    if contrast:
        out += f": {contrast_text(run)}"
    return out + " (probability scale)"


def hdi(values: Any, prob: float) -> tuple[float, float]:
    """Highest-density interval of draws pooled over every dimension (ArviZ's ``hdi``)."""
    import arviz as az
    import xarray as xr

    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    da = xr.DataArray(v[None, :], dims=("chain", "draw"))
    lo, hi = np.asarray(az.hdi(da, prob=prob).values, dtype=float).ravel()[:2]
    return float(lo), float(hi)


def figure_format(path: str | os.PathLike) -> str:
    """The format named by a file's suffix.

    Raises
    ------
    PlotError
        For a suffix other than ``.png``, ``.svg`` or ``.pdf``.
    """
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise PlotError(
            f"cannot write a figure to {str(path)!r}: unknown suffix {Path(path).suffix!r}; "
            "expected " + ", ".join(f".{f}" for f in FORMATS)
        )
    return fmt


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically, nothing clipped.

    Raises
    ------
    PlotError
        For an unknown suffix or a directory that does not exist.
    """
    path = Path(path)
    fmt = figure_format(path)
    if not path.parent.is_dir():
        raise PlotError(
            f"cannot write a figure to {str(path)!r}: directory {str(path.parent)!r} not found"
        )
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    )


def figure_bytes(fig: Figure, fmt: str = "png", *, dpi: int = 110) -> bytes:
    """The figure as PNG or SVG bytes (what the HTML report inlines)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def clipped_text(fig: Figure, *, tol: float = 1.0) -> list[str]:
    """Visible, non-empty text artists whose extent falls outside the figure (in pixels).

    An empty list means nothing is clipped when the figure is saved without
    ``bbox_inches="tight"``; the tests assert it for every figure.
    """
    from matplotlib.text import Text

    fig.draw_without_rendering()  # runs the layout engine, as saving does
    get = getattr(fig.canvas, "get_renderer", None)
    renderer = get() if get is not None else fig._get_renderer()  # a pyplot-free Figure
    box = fig.bbox
    # tick labels of ticks outside an axis' view limits exist but are never drawn
    undrawn = set()
    for ax in fig.get_axes():
        for axis in ax._axis_map.values():
            drawn = {id(t) for t in axis._update_ticks()}
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if id(tick) not in drawn:
                    undrawn.update({id(tick.label1), id(tick.label2)})
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in undrawn:
            continue
        # texts switched off by the axes' own clipping (e.g. labels of clipped annotations)
        if hasattr(t, "_check_xy") and not t._check_xy(renderer):
            continue
        ext = t.get_window_extent(renderer)
        if (
            ext.x0 < box.x0 - tol
            or ext.y0 < box.y0 - tol
            or ext.x1 > box.x1 + tol
            or ext.y1 > box.y1 + tol
        ):
            out.append(t.get_text())
    return out


def thin_posterior(idata: Any, draws: int | None) -> Any:
    """A DataTree with the posterior thinned evenly to at most ``draws`` draws in all.

    The data groups (``constant_data``, ``observed_data``) come along, so PyMC's posterior
    predictive sampling sees that the model's data are those the posterior was fitted to.
    """
    import xarray as xr

    post = idata["posterior"].to_dataset()
    total = post.sizes["chain"] * post.sizes["draw"]
    if draws is not None and total > draws:
        per_chain = max(1, draws // post.sizes["chain"])
        keep = np.unique(np.linspace(0, post.sizes["draw"] - 1, per_chain).round().astype(int))
        post = post.isel(draw=keep)
    groups = {"posterior": post}
    for g in ("constant_data", "observed_data"):
        if g in idata.children:
            groups[g] = idata[g].to_dataset()
    return xr.DataTree.from_dict(groups)
