"""Shipped datasets.

The coalition-participation panel (``data/coalition_panel.csv`` in the repository) has one row
per potential contributor x mission: UN peacekeeping operations (Geo-PKO / TCCMap troop
contributors, 1994-2024) and the six US-led wars of the COW Inter-State War data (Korea,
Vietnam, Gulf, Kosovo, Afghanistan, Iraq), with covariates about each state's ties to the
United States. ``data/README.md`` documents every source, coding rule, known weakness and the
citations the sources ask for; ``data/build/build_panel.py`` rebuilds the file from the raw
sources.

The CSV lives in the repository's ``data/`` folder, next to (not inside) the package, so the
loader resolves it relative to the package's parent directory.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pandas as pd

from embedcausal.errors import DataError

__all__ = ["MISSION_TYPES", "PANEL_COLUMNS", "REGIONS", "load_coalition_panel", "panel_path"]

PANEL_FILE = "coalition_panel.csv"

REGIONS = ["Americas", "Europe", "Africa", "Middle East", "Asia", "Oceania"]
MISSION_TYPES = ["un_pko", "us_war"]
ERAS = ["cold_war", "post_cold_war"]

PANEL_COLUMNS: dict[str, str] = {
    "country": "COW state abbreviation of the potential contributor, e.g. 'UKG'.",
    "country_name": "COW state name.",
    "ccode": "COW country code.",
    "region": "Region from the COW code range: Americas, Europe, Africa, Middle East, Asia, "
    "Oceania.",
    "mission": "Mission id: UN acronym (e.g. 'UNMIL', 'UNAVEM_III') or US war ('KOREA').",
    "mission_year": "Start year of the mission; the reference year for every covariate.",
    "mission_type": "'un_pko' (UN peacekeeping) or 'us_war' (US-led war in COW).",
    "era": "'cold_war' if mission_year <= 1989, else 'post_cold_war'.",
    "participation": "1 if the state contributed troops (UN: in any observed year) or fought on "
    "the US side (COW), else 0.",
    "inst_ties": "Number of IGOs in which the state and the US are both full members "
    "(COW IGO v3, mission_year; 2014 value carried up to 5 years).",
    "atop_obligations": "Number of ATOP v5.1 obligation types with the US in force in "
    "mission_year (0-5).",
    "alliance": "1 if an ATOP defense or offense pact with the US is in force in mission_year.",
    "dipex_us": "1 if the state or the US has diplomatic representation in the other (COW "
    "Diplomatic Exchange, latest wave <= mission_year, at most 10 years old).",
    "exercises_us_5y": "Multinational military exercises with the US that started in the 5 "
    "years before mission_year (MME, 1980-2010).",
    "us_troops": "US active-duty military personnel in the state in mission_year - 1 (troopdata).",
    "un_agree_us": "Share of UNGA votes agreeing with the US in mission_year - 1.",
    "ideal_distance_us": "|UNGA ideal point - US ideal point| in mission_year - 1.",
    "us_aid": "Mean US aid obligations, constant USD millions, fiscal years mission_year-3 to "
    "mission_year-1.",
    "us_aid_change": "log1p(mean aid, FY mission_year..+2) - log1p(mean aid, the 3 prior FYs).",
    "cinc": "COW NMC v7 composite index of national capability in mission_year.",
    "dist_us_km": "Great-circle distance between the state's capital and Washington, km.",
}

_STR = ["country", "country_name", "mission"]
_CATEGORIES = {"region": REGIONS, "mission_type": MISSION_TYPES, "era": ERAS}
_INT = ["ccode", "mission_year", "participation", "inst_ties", "atop_obligations", "alliance"]
_NULLABLE_INT = ["dipex_us", "exercises_us_5y", "us_troops"]
_FLOAT = ["un_agree_us", "ideal_distance_us", "us_aid", "us_aid_change", "cinc", "dist_us_km"]


def panel_path() -> Path:
    """Where the shipped panel is expected: ``<repository>/data/coalition_panel.csv``.

    Returns
    -------
    pathlib.Path
        The path (which may not exist, e.g. in an installed wheel without the data folder).
    """
    package_dir = Path(str(importlib.resources.files("embedcausal")))
    return package_dir.parent / "data" / PANEL_FILE


def load_coalition_panel(path: str | Path | None = None) -> pd.DataFrame:
    """Load the coalition-participation panel with typed columns.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A CSV with the panel's columns; by default the shipped ``data/coalition_panel.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per country x mission, columns in the order of :data:`PANEL_COLUMNS`:
        strings as ``str``; ``region``, ``mission_type`` and ``era`` as categoricals with
        fixed categories; complete integer columns as ``int64``; ``dipex_us``,
        ``exercises_us_5y`` and ``us_troops`` as nullable ``Int64``; the rest ``float64``
        (missing values stay missing: ``<NA>`` / ``NaN``).

    Raises
    ------
    DataError
        If the file is missing, lacks a column, or a value does not fit its column's type.
    """
    p = Path(path) if path is not None else panel_path()
    if not p.is_file():
        raise DataError(f"{p}: coalition panel not found (expected the CSV shipped in data/)")
    try:
        raw = pd.read_csv(p, dtype={c: str for c in _STR})
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{p}: cannot read the coalition panel: {exc}") from None
    missing = [c for c in PANEL_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{p}: column {missing[0]!r} missing; expected columns {list(PANEL_COLUMNS)}"
        )
    return pd.DataFrame({col: _typed(raw[col], col, p) for col in PANEL_COLUMNS})


def _typed(s: pd.Series, col: str, path: Path) -> pd.Series:
    """Convert one column to its documented type; DataError names the first bad row."""
    if col in _STR:
        _require_complete(s, col, path)
        return s.astype(str)
    if col in _CATEGORIES:
        _require_complete(s, col, path)
        bad = s[~s.isin(_CATEGORIES[col])]
        if len(bad):
            raise DataError(
                f"{path}: column {col!r} row {bad.index[0]}: value {bad.iloc[0]!r}; "
                f"expected one of {_CATEGORIES[col]}"
            )
        return pd.Series(pd.Categorical(s, categories=_CATEGORIES[col]), index=s.index, name=col)
    numeric = pd.to_numeric(s, errors="coerce")
    bad = s[numeric.isna() & s.notna()]
    if len(bad):
        raise DataError(
            f"{path}: column {col!r} row {bad.index[0]}: value {bad.iloc[0]!r}; expected a number"
        )
    if col in _FLOAT:
        return numeric.astype("float64")
    fractional = numeric[numeric.notna() & (numeric % 1 != 0)]
    if len(fractional):
        raise DataError(
            f"{path}: column {col!r} row {fractional.index[0]}: value {fractional.iloc[0]:g}; "
            "expected an integer"
        )
    if col in _NULLABLE_INT:
        return numeric.astype("Int64")
    _require_complete(numeric, col, path)
    return numeric.astype("int64")


def _require_complete(s: pd.Series, col: str, path: Path) -> None:
    na = s[s.isna()]
    if len(na):
        raise DataError(
            f"{path}: column {col!r} row {na.index[0]}: value missing; expected a value"
        )
