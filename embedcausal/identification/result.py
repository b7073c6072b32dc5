"""What identification returns: :class:`Identification` and :class:`Independence`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["ESTIMANDS", "Identification", "Independence"]

#: estimands :func:`~embedcausal.identification.identify` understands, with DoWhy's name for each
ESTIMANDS = {"ate": "nonparametric-ate", "nde": "nonparametric-nde", "nie": "nonparametric-nie"}


@dataclass(frozen=True)
class Identification:
    """What the DAG identifies for one estimand, how, and on what assumptions.

    Attributes
    ----------
    estimand : str
        ``"ate"``, ``"nde"`` or ``"nie"``.
    treatment, outcome : str
        The treatment and outcome nodes.
    mediator : str or None
        The mediator (natural effects only).
    identified : bool
        Whether the effect is identified (``kind`` says how).
    kind : str or None
        ``"backdoor"``, ``"frontdoor"``, ``"iv"``, ``"mediation"``, ``"within"`` or ``None``.
    adjustment_set : tuple of str or None
        The minimal adjustment set used (observed nodes only); ``None`` when no set is used.
    adjustment_sets : tuple of tuple of str
        All minimal valid sets found (observed parts), smallest first.
    frontdoor_set : tuple of str or None
        A valid frontdoor set for the total effect, if one exists.
    instruments : tuple of str
        Valid (unconditional) instruments for the total effect.
    within_group : str or None
        Grouping column within which the effect is identified (kind ``"within"``).
    open_paths : tuple of str
        Backdoor paths left open by the best observed adjustment, e.g.
        ``"inst_ties <- disposition -> participation"``.
    assumptions : tuple of str
        The assumptions relied on, in plain words.
    dowhy : dict
        What DoWhy said (estimand type, estimands found, their variables), for the record.
    notes : tuple of str
        Disagreements with DoWhy and other remarks.
    """

    estimand: str
    treatment: str
    outcome: str
    mediator: str | None
    identified: bool
    kind: str | None
    adjustment_set: tuple[str, ...] | None
    adjustment_sets: tuple[tuple[str, ...], ...] = ()
    frontdoor_set: tuple[str, ...] | None = None
    instruments: tuple[str, ...] = ()
    within_group: str | None = None
    open_paths: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    dowhy: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of every field (tuples become lists)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [list(v) if isinstance(v, tuple) else v for v in value]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Identification:
        """Inverse of :meth:`to_dict` (lists become tuples again), for saved runs."""

        def tup(value):
            if isinstance(value, list):
                return tuple(tup(v) for v in value)
            return value

        return cls(**{k: (v if k == "dowhy" else tup(v)) for k, v in data.items()})

    def __str__(self) -> str:
        what = f"{self.estimand} of {self.treatment} on {self.outcome}"
        if self.mediator:
            what += f" via {self.mediator}"
        status = f"identified ({self.kind})" if self.identified else "NOT identified"
        lines = [f"{what}: {status}"]
        if self.adjustment_set is not None:
            lines.append(f"  adjustment set: {{{', '.join(self.adjustment_set)}}}")
        if self.within_group:
            lines.append(f"  within: {self.within_group}")
        lines += [f"  open path: {p}" for p in self.open_paths]
        lines += [f"  assumes: {a}" for a in self.assumptions]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True, order=True)
class Independence:
    """A conditional independence ``x ⟂ y | given`` implied by a DAG."""

    x: str
    y: str
    given: tuple[str, ...] = ()

    def __str__(self) -> str:
        given = f" | {', '.join(self.given)}" if self.given else ""
        return f"{self.x} ⟂ {self.y}{given}"
