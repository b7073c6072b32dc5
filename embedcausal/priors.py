"""The prior grammar of model files.

A prior is written as a distribution call with numeric arguments, e.g. ``Normal(0, 1)``,
``HalfNormal(sigma=2)`` or ``StudentT(3, 0, 2.5)``. The text is *parsed* with :mod:`ast`
into a small tree and only numeric literals are accepted: nothing from a model file is
ever evaluated or executed.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from embedcausal.errors import EmbedcausalError, shown

#: longest prior text accepted (a prior is a call with a few numbers)
MAX_PRIOR_LENGTH = 200
# name -> (parameter names in positional order, names that must be > 0, support)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], frozenset[str], str]] = {
    "Normal": (("mu", "sigma"), frozenset({"sigma"}), "real"),
    "StudentT": (("nu", "mu", "sigma"), frozenset({"nu", "sigma"}), "real"),
    "Cauchy": (("alpha", "beta"), frozenset({"beta"}), "real"),
    "Laplace": (("mu", "b"), frozenset({"b"}), "real"),
    "HalfNormal": (("sigma",), frozenset({"sigma"}), "positive"),
    "HalfStudentT": (("nu", "sigma"), frozenset({"nu", "sigma"}), "positive"),
    "HalfCauchy": (("beta",), frozenset({"beta"}), "positive"),
    "Exponential": (("lam",), frozenset({"lam"}), "positive"),
    "Gamma": (("alpha", "beta"), frozenset({"alpha", "beta"}), "positive"),
    "LogNormal": (("mu", "sigma"), frozenset({"sigma"}), "positive"),
}


class PriorError(EmbedcausalError, ValueError):
    """A prior string does not follow the grammar."""


@dataclass(frozen=True)
class Prior:
    """A parsed prior: a PyMC distribution name and its numeric parameters.

    Parameters
    ----------
    dist : str
        Distribution name, one of :data:`DISTRIBUTIONS`.
    params : dict of str to float
        Parameters by name.
    """

    dist: str
    params: dict[str, float] = field(default_factory=dict)

    @property
    def support(self) -> str:
        """``"real"`` or ``"positive"``."""
        return DISTRIBUTIONS[self.dist][2]

    def __str__(self) -> str:
        names = DISTRIBUTIONS[self.dist][0]
        return f"{self.dist}({', '.join(_fmt(self.params[n]) for n in names)})"

    def to_pymc(self, name: str, **kwargs: Any):
        """Create the PyMC random variable ``name`` inside the current model context."""
        import pymc as pm

        return getattr(pm, self.dist)(name, **self.params, **kwargs)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _number(node: ast.AST, text: str) -> float:
    sign = 1.0
    # a loop, not recursion: '-(-(-(...1)))' hundreds deep is a bad prior, not a RecursionError
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        try:
            value = float(node.value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise PriorError(
                f"prior {shown(text)}: argument {_segment(text, node)} is not a finite number; "
                "expected a finite numeric literal such as Normal(0, 1)"
            )
        return sign * value
    raise PriorError(
        f"prior {shown(text)}: argument {shown(_source(node))} is not a number; "
        "expected numeric literals such as Normal(0, 1)"
    )


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text.strip(), node) or _source(node)


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (RecursionError, ValueError):
        return "<expression>"


def parse_prior(text: str, *, support: str | None = None) -> Prior:
    """Parse a prior string such as ``"Normal(0, 1)"``.

    Parameters
    ----------
    text : str
        The prior, a distribution name followed by numeric arguments (positional or keyword).
    support : {"real", "positive"}, optional
        If ``"positive"``, only distributions on the positive half-line are accepted (for
        standard deviations and dispersions).

    Returns
    -------
    Prior

    Raises
    ------
    PriorError
        If the text is not a call of a known distribution with valid numeric arguments.
    """
    expected = "expected e.g. 'Normal(0, 1)' with one of " + ", ".join(DISTRIBUTIONS)
    if not isinstance(text, str):
        raise PriorError(f"prior {shown(text)} is not a string; {expected}")
    if len(text) > MAX_PRIOR_LENGTH:
        raise PriorError(
            f"prior {shown(text)} is too long; expected a distribution call of at most "
            f"{MAX_PRIOR_LENGTH} characters such as 'Normal(0, 1)'"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError, ValueError, OverflowError):
        raise PriorError(f"prior {shown(text)} is not a distribution call; {expected}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)):
        raise PriorError(f"prior {shown(text)} is not a distribution call; {expected}")
    dist = tree.func.id
    if dist not in DISTRIBUTIONS:
        raise PriorError(f"prior {shown(text)}: unknown distribution {shown(dist)}; {expected}")
    names, positive, dist_support = DISTRIBUTIONS[dist]
    if len(tree.args) > len(names):
        raise PriorError(
            f"prior {shown(text)}: {dist} takes {len(names)} argument(s) ({', '.join(names)}), "
            f"got {len(tree.args)}"
        )
    params = {n: _number(a, text) for n, a in zip(names, tree.args, strict=False)}
    for kw in tree.keywords:
        if kw.arg not in names:
            raise PriorError(
                f"prior {shown(text)}: {dist} has no parameter {shown(kw.arg)}; expected "
                f"{', '.join(names)}"
            )
        if kw.arg in params:
            raise PriorError(f"prior {shown(text)}: parameter {shown(kw.arg)} given twice")
        params[kw.arg] = _number(kw.value, text)
    missing = [n for n in names if n not in params]
    if missing:
        raise PriorError(f"prior {shown(text)}: {dist} needs {', '.join(missing)}")
    for n in positive:
        if params[n] <= 0:
            raise PriorError(f"prior {shown(text)}: {n} = {_fmt(params[n])} must be > 0")
    if support == "positive" and dist_support != "positive":
        pos = [d for d, spec in DISTRIBUTIONS.items() if spec[2] == "positive"]
        raise PriorError(
            f"prior {shown(text)} puts mass on negative values; this parameter must be positive: "
            f"expected one of {', '.join(pos)}"
        )
    return Prior(dist, {n: params[n] for n in names})
