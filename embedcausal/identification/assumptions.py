"""The assumptions an identification relies on, in plain words.

Each function returns the sentences :attr:`Identification.assumptions
<embedcausal.identification.Identification.assumptions>` lists for one way of identifying an
effect; :func:`set_text` and :func:`paths_text` write node sets and paths the same way in
assumptions and notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "backdoor_assumptions",
    "dag_assumption",
    "frontdoor_assumptions",
    "instrument_assumptions",
    "natural_assumptions",
    "not_identified_natural",
    "not_identified_total",
    "paths_text",
    "set_text",
    "within_assumption",
    "within_total_assumptions",
]


def set_text(nodes: Iterable[str]) -> str:
    """``{a, b}`` (sorted), or ``the empty set``."""
    nodes = sorted(nodes)
    return "{" + ", ".join(nodes) + "}" if nodes else "the empty set"


def paths_text(paths: Sequence[str], most: int = 3) -> str:
    """Paths joined by '; ', at most ``most`` of them and a count of the rest."""
    text = "; ".join(paths[:most])
    if len(paths) > most:
        text += f" (and {len(paths) - most} more)"
    return text


def _given(nodes: Sequence[str], group: str | None = None) -> str:
    parts = list(nodes)
    if group:
        parts.append(f"{group} (fixed effects)")
    return f"given {', '.join(parts)}" if parts else "(no adjustment needed)"


def dag_assumption() -> str:
    """The assumption every identification makes: the DAG itself is right."""
    return (
        "the DAG is complete: no common cause of two of its nodes is missing from it, and "
        "its edges point the right way"
    )


def _positivity(t: str, z: Sequence[str]) -> str:
    given = f" at every value of {set_text(z)}" if z else ""
    return f"positivity: every level of {t} compared occurs{given}"


def within_assumption(latents: Sequence[str], group: str) -> str:
    """The latent confounders ``latents`` are constant within ``group``."""
    names = " and ".join(latents)
    verb = "does" if len(latents) == 1 else "do"
    return (
        f"{names} {verb} not vary within {group}; the effect is identified from within-{group} "
        f"variation of the treatment ({group} fixed effects / Mundlak decomposition); "
        "time-varying confounders must still be adjusted for"
    )


def backdoor_assumptions(t: str, y: str, z: Sequence[str]) -> list[str]:
    """Backdoor adjustment for ``z``."""
    return [
        f"no unmeasured confounding of {t} and {y} given {set_text(z)}: it blocks "
        f"every backdoor path from {t} to {y}",
        _positivity(t, z),
    ]


def within_total_assumptions(
    t: str, y: str, z: Sequence[str], latents: Sequence[str], group: str
) -> list[str]:
    """Adjustment for ``z`` within ``group``, which holds ``latents`` fixed."""
    return [
        within_assumption(latents, group),
        f"no unmeasured confounding of {t} and {y} {_given(z, group)}: "
        f"with {', '.join(latents)} held fixed by {group}, every backdoor path "
        "is blocked",
        _positivity(t, z) + f", with variation of {t} within {group}",
    ]


def frontdoor_assumptions(t: str, y: str, fd: Sequence[str]) -> list[str]:
    """The frontdoor formula through ``fd``."""
    return [
        f"{set_text(fd)} intercepts every directed path from {t} to {y} (full mediation)",
        f"no unmeasured confounding of {t} and {set_text(fd)}",
        f"every backdoor path from {set_text(fd)} to {y} is blocked by {t}",
        _positivity(t, ()),
    ]


def instrument_assumptions(t: str, y: str, instruments: Sequence[str]) -> list[str]:
    """Instrumental variables ``instruments``."""
    zs = set_text(instruments)
    return [
        f"relevance: {zs} affect(s) {t}",
        f"exogeneity: {zs} share(s) no unblocked common cause with {y}",
        f"exclusion: {zs} affect(s) {y} only through {t}",
        "point identification needs more than the DAG: a homogeneous (e.g. linear) "
        "effect, or monotonicity for a local average effect",
    ]


def not_identified_total(t: str, y: str) -> str:
    """Why a total effect is not identified."""
    return (
        f"none: no observed set blocks every backdoor path from {t} to {y}, and no "
        "frontdoor set or instrument exists"
    )


def natural_assumptions(
    t: str, m: str, y: str, w: Sequence[str], group: str | None = None
) -> list[str]:
    """Natural direct and indirect effects through ``m``, adjusting for ``w`` (within
    ``group`` if given)."""
    given = _given(w, group)
    given_t = _given((t, *w), group)
    return [
        f"no unmeasured {t}–{y} confounding {given}",
        f"no unmeasured {m}–{y} confounding {given_t}",
        f"no unmeasured {t}–{m} confounding {given}",
        f"no {m}–{y} confounder is affected by {t} (no recanting witness)",
        _positivity(t, w) + f"; every level of {m} occurs at every level of {t}",
        dag_assumption(),
    ]


def not_identified_natural(t: str, m: str, y: str) -> str:
    """Why natural effects are not identified."""
    return (
        f"none: the conditions for natural effects (no unblocked {t}–{y}, {m}–{y} or "
        f"{t}–{m} confounding, no {m}–{y} confounder affected by {t}) fail"
    )
