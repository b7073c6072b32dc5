"""Build ``data/coalition_panel.csv`` from the raw sources in ``shared/data/raw``.

Usage::

    python data/build/build_panel.py [RAW_DIR] [--out data/coalition_panel.csv]

One row per potential contributor x mission. Missions are the UN peacekeeping operations
with observed troop contributors in Geo-PKO v1 and TCCMap v2.3 (1994-2024), and the six
US-led inter-state wars of COW Inter-State War v4.0. Every coding rule is documented in
``data/README.md``; each source has one reader function below. The output is deterministic
(rows sorted by mission_year, mission, ccode; fixed float formats), so a rerun over the same
raw files is byte-identical. Nothing is imputed: a value the sources do not give stays empty.

The script prints a short build log (counts, unmatched names) to stderr.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RAW = REPO.parent / "shared" / "data" / "raw"
DEFAULT_OUT = REPO / "data" / "coalition_panel.csv"

US = 2
EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius

COLUMNS = [
    "country",
    "country_name",
    "ccode",
    "region",
    "mission",
    "mission_year",
    "mission_type",
    "era",
    "participation",
    "inst_ties",
    "atop_obligations",
    "alliance",
    "dipex_us",
    "exercises_us_5y",
    "us_troops",
    "un_agree_us",
    "ideal_distance_us",
    "us_aid",
    "us_aid_change",
    "cinc",
    "dist_us_km",
]
INT_COLUMNS = [
    "ccode",
    "mission_year",
    "participation",
    "inst_ties",
    "atop_obligations",
    "alliance",
    "dipex_us",
    "exercises_us_5y",
    "us_troops",
]
FLOAT_FORMATS = {
    "un_agree_us": "{:.4f}",
    "ideal_distance_us": "{:.4f}",
    "us_aid": "{:.4f}",
    "us_aid_change": "{:.4f}",
    "cinc": "{:.6g}",
    "dist_us_km": "{:.1f}",
}

# Coverage of the time-varying sources (first and last year with data).
IGO_LAST_YEAR, IGO_MAX_CARRY = 2014, 5
ATOP_LAST_YEAR = 2018
MME_FIRST_YEAR, MME_LAST_YEAR = 1980, 2010
AID_FIRST_FY, AID_LAST_FY = 1946, 2022
TROOPS_FIRST_YEAR, TROOPS_LAST_YEAR = 1950, 2024
DIPEX_MAX_LAG = 10
COW_STATES_LAST_YEAR = 2016
TCC_FIRST_YEAR = 1994  # first year of Geo-PKO / TCCMap


# --------------------------------------------------------------------------------------
# Mission tables (hand-coded facts; see data/README.md)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UNMission:
    """A UN operation: the id used in the panel, its mandate start year and host states."""

    mission_id: str
    mandate_start: int
    hosts: tuple[int, ...]


# Source mission name -> panel id, mandate start year (UN DPO), COW codes of the host state(s)
# on whose territory the operation was mandated.
UN_MISSIONS: dict[str, UNMission] = {
    "MINUJUSTH": UNMission("MINUJUSTH", 2017, (41,)),
    "MINURCA": UNMission("MINURCA", 1998, (482,)),
    "MINURCAT": UNMission("MINURCAT", 2007, (482, 483)),
    "MINURSO": UNMission("MINURSO", 1991, (600,)),
    "MINUSCA": UNMission("MINUSCA", 2014, (482,)),
    "MINUSMA": UNMission("MINUSMA", 2013, (432,)),
    "MINUSTAH": UNMission("MINUSTAH", 2004, (41,)),
    "MONUA": UNMission("MONUA", 1997, (540,)),
    "MONUC": UNMission("MONUC", 1999, (490,)),
    "MONUSCO": UNMission("MONUSCO", 2010, (490,)),
    "ONUB": UNMission("ONUB", 2004, (516,)),
    "ONUMOZ": UNMission("ONUMOZ", 1992, (541,)),
    "UNAMID": UNMission("UNAMID", 2007, (625,)),
    "UNAMIR": UNMission("UNAMIR", 1993, (517,)),
    "UNAMSIL": UNMission("UNAMSIL", 1999, (451,)),
    "UNAVEM II": UNMission("UNAVEM_II", 1991, (540,)),
    "UNAVEM III": UNMission("UNAVEM_III", 1995, (540,)),
    "UNCRO": UNMission("UNCRO", 1995, (344,)),
    "UNDOF": UNMission("UNDOF", 1974, (652, 666)),
    "UNFICYP": UNMission("UNFICYP", 1964, (352,)),
    "UNIFIL": UNMission("UNIFIL", 1978, (660,)),
    "UNIKOM": UNMission("UNIKOM", 1991, (645, 690)),
    "UNISFA": UNMission("UNISFA", 2011, (625, 626)),
    "UNMEE": UNMission("UNMEE", 2000, (530, 531)),
    "UNMIH": UNMission("UNMIH", 1993, (41,)),
    "UNMIL": UNMission("UNMIL", 2003, (450,)),
    "UNMIS": UNMission("UNMIS", 2005, (625,)),
    "UNMISET": UNMission("UNMISET", 2002, (860,)),
    "UNMISS": UNMission("UNMISS", 2011, (626,)),
    "UNOCI": UNMission("UNOCI", 2004, (437,)),
    "UNOMIL": UNMission("UNOMIL", 1993, (450,)),
    "UNOMSIL": UNMission("UNOMSIL", 1998, (451,)),
    "UNOSOM II": UNMission("UNOSOM_II", 1993, (520,)),
    "UNPREDEP": UNMission("UNPREDEP", 1995, (343,)),
    "UNPROFOR": UNMission("UNPROFOR", 1992, (343, 344, 345, 346)),
    "UNSMIH": UNMission("UNSMIH", 1996, (41,)),
    "UNTAES": UNMission("UNTAES", 1996, (344,)),
    # Political / observer offices without troop contributors in the sources (dropped later).
    "BINUB": UNMission("BINUB", 2007, (516,)),
    "MINUCI": UNMission("MINUCI", 2003, (437,)),
    "UNIOSIL": UNMission("UNIOSIL", 2006, (451,)),
    "UNIPSIL": UNMission("UNIPSIL", 2008, (451,)),
}


@dataclass(frozen=True)
class USWar:
    """A US-led war in COW Inter-State War v4.0 and the state(s) it was fought in."""

    mission_id: str
    warnum: int
    hosts: tuple[int, ...]


US_WARS = [
    USWar("KOREA", 151, (731, 732)),
    USWar("VIETNAM", 163, (816, 817)),
    USWar("GULF", 211, (645, 690)),
    USWar("KOSOVO", 221, (345,)),
    USWar("AFGHANISTAN", 225, (700,)),
    USWar("IRAQ", 227, (645,)),
]

# Country names in TCCMap / Geo-PKO that differ from COW `statenme` (lower case).
NAME_ALIASES = {
    "uk": 200,
    "britain": 200,
    "u.k.": 200,
    "usa": 2,
    "us": 2,
    "drc": 490,
    "democratic republic of congo": 490,
    "korea (rok)": 732,
    "korea": 732,
    "cote d'ivoire": 437,
    "serbia": 345,
}
# Labels in TCCMap / Geo-PKO that are not states: counted as unmatched, never coded.
NOT_STATES = {"tcc name unknown", "unknown", "multinational", "un", "caricom", "ma"}

# Successor states whose covariates before unification come from the predecessor that
# continued it (FRG -> Germany on 3 Oct 1990, YAR -> Yemen on 22 May 1990).
PREDECESSOR = {255: (260, 1955, 1990), 679: (678, 1926, 1990)}


# Gleditsch-Ward codes in MME that differ from COW codes.
def gw_to_cow(gwcode: int, year: int) -> int:
    """Convert a Gleditsch-Ward code as used in MME to a COW code."""
    if gwcode == 260 and year >= 1991:
        return 255  # unified Germany: GW keeps 260, COW uses 255
    if gwcode == 340:
        return 345  # Serbia: GW 340, COW continues Yugoslavia 345
    if gwcode == 817 and year >= 1976:
        return 816  # MME codes unified Vietnam 817; COW 816
    if gwcode == 678 and year >= 1990:
        return 679
    return gwcode


# MME participants without a gwcode (GW excludes micro-states), by the MME country name.
MME_NAME_TO_COW = {
    "antigua & barbuda": 58,
    "dominica": 54,
    "tonga": 955,
    "st. lucia": 56,
    "st. kitts & nevis": 60,
    "st. christopher": 60,
    "grenada": 55,
    "st. vincent & grenadines": 57,
    "são tomé & príncipe": 403,
    "yemen": 679,
    "vanuatu": 935,
    "seychelles": 591,
    "palau": 986,
}

# Foreign Aid Explorer entities without an ISO3 code in the crosswalk -> COW code(s).
AID_NAME_TO_COW = {
    "Soviet Union (former)": (365,),
    "Yugoslavia (former)": (345,),
    "Serbia and Montenegro (former)": (345,),
    "Serbia": (345,),
    "Sudan (former)": (625,),
    "Czechoslovakia (former)": (315,),
    "Vietnam (former South)": (817,),
    "Yemen (former P.D.R.)": (680,),
    "Germany (former East)": (265,),
    "Luxembourg": (212,),
    "Kosovo": (347,),
}
# ISO3 codes that cover more than one COW state over time (aid entity -> all of them).
AID_ISO_EXTRA = {"DEU": (255, 260), "YEM": (678, 679), "VNM": (816,)}

# A documented correction of a source error (cow_capitals gives the centre of Brazil).
CAPITAL_FIXES = {(140, "Brasilia"): (-15.7939, -47.8828)}


def log(msg: str) -> None:
    """Print one build-log line to stderr."""
    print(msg, file=sys.stderr)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def region_of(ccode: int) -> str:
    """Region from the COW code range (the rule in data/README.md)."""
    for upper, name in ((199, "Americas"), (399, "Europe"), (599, "Africa"), (699, "Middle East")):
        if ccode <= upper:
            return name
    return "Asia" if ccode <= 899 else "Oceania"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def lookup(table: dict, keys: Iterable[tuple[int, int]]) -> list:
    """Values of ``table`` for (ccode, year) keys, with the FRG/YAR predecessor fallback."""
    out = []
    for ccode, year in keys:
        value = table.get((ccode, year))
        pred = PREDECESSOR.get(ccode)
        if value is None and pred is not None and pred[1] <= year <= pred[2]:
            value = table.get((pred[0], year))
        out.append(value)
    return out


# --------------------------------------------------------------------------------------
# Readers: one per source
# --------------------------------------------------------------------------------------


def read_states(raw: Path) -> pd.DataFrame:
    """COW State System Membership v2016: one row per membership spell, with dates."""
    s = pd.read_csv(raw / "peacesciencer" / "cow_states.csv")
    start = pd.to_datetime(
        {"year": s.styear, "month": s.stmonth.astype(int), "day": s.stday.astype(int)}
    )
    end = pd.to_datetime(
        {"year": s.endyear, "month": s.endmonth.astype(int), "day": s.endday.astype(int)}
    )
    # COW v2016 ends on 31 Dec 2016: a spell still open then is open-ended.
    end = end.where(end < pd.Timestamp(f"{COW_STATES_LAST_YEAR}-12-31"), pd.Timestamp.max)
    return pd.DataFrame(
        {
            "stateabb": s.stateabb.astype(str),
            "ccode": s.ccode.astype("int64"),
            "statenme": s.statenme.astype(str),
            "start": start,
            "end": end,
        }
    )


def members_at_year_end(states: pd.DataFrame, year: int) -> pd.DataFrame:
    """States that are COW system members on 31 December of ``year`` (one row each)."""
    day = pd.Timestamp(f"{year}-12-31")
    return states[(states.start <= day) & (states.end >= day)].drop_duplicates("ccode")


def cow_name_index(states: pd.DataFrame) -> dict[str, int]:
    """Lower-case COW state name (and the aliases above) -> COW code."""
    index = {name.lower(): int(c) for name, c in zip(states.statenme, states.ccode, strict=True)}
    # Aliases win: "korea" is COW's pre-1905 Korea (730) but South Korea (732) in the TCC data.
    index.update(NAME_ALIASES)
    return index


@dataclass
class NameMatches:
    """How TCC names were matched to COW codes (for the build log and README)."""

    matched: int = 0
    unmatched: dict[str, int] = field(default_factory=dict)

    def add_unmatched(self, name: str) -> None:
        """Count one entry whose name is not a COW state."""
        self.unmatched[name] = self.unmatched.get(name, 0) + 1


def read_geopko(raw: Path, names: dict[str, int], stats: NameMatches) -> pd.DataFrame:
    """Geo-PKO v1 (Africa, 1994-2018): mission, year, COW code of each troop contributor.

    ``TCC1..TCC14`` hold COW codes; where a code is missing but ``name.of.TCCk`` is given,
    the name is matched against COW names (6 "Serbia" entries).
    """
    g = pd.read_csv(raw / "geopko" / "geopko_ccode.csv", encoding="cp1252", low_memory=False)
    parts = []
    for k in range(1, 15):
        part = g[["Mission", "year", f"TCC{k}", f"name.of.TCC{k}"]]
        parts.append(part.set_axis(["source_mission", "year", "code", "name"], axis=1))
    long = pd.concat(parts, ignore_index=True)
    long = long[long.code.notna() | long.name.notna()]
    codes = []
    for code, name in zip(long.code, long.name, strict=True):
        if pd.notna(code):
            codes.append(int(code))
            continue
        key = str(name).strip().lower()
        if key in names and key not in NOT_STATES:
            codes.append(names[key])
            stats.matched += 1
        else:
            codes.append(None)
            stats.add_unmatched(f"{name} (Geo-PKO)")
    long = long.assign(ccode=codes).dropna(subset=["ccode"])
    years = g[["Mission", "year"]].set_axis(["source_mission", "year"], axis=1)
    return _contributors(long, years, "geopko")


TCC_ENTRY = re.compile(r"\s*(?P<name>.+?)\s*\((?P<size>[^()]*)\)\s*$")


def read_tccmap(raw: Path, names: dict[str, int], stats: NameMatches) -> pd.DataFrame:
    """TCCMap v2.3 (worldwide, 1994-2024): parse ``year.overview`` into COW codes.

    Each entry looks like ``"Finland (300)"`` or ``"Nepal (size unknown)"``; entries are
    separated by commas outside parentheses. Names are matched exactly (case-insensitive)
    against COW state names plus a short alias list; anything else is left unmatched.
    """
    t = pd.read_csv(raw / "geopko" / "TCCMap_v.2.3.csv")
    rows = []
    for mission, year, overview in zip(t.mission, t.year, t["year.overview"], strict=True):
        for entry in re.split(r",\s*(?![^()]*\))", str(overview)):
            m = TCC_ENTRY.match(entry)
            name = m.group("name") if m else entry.strip()
            key = name.lower()
            if m and key in names and key not in NOT_STATES:
                rows.append((mission, int(year), names[key]))
                stats.matched += 1
            else:
                stats.add_unmatched(f"{name} (TCCMap)")
    long = pd.DataFrame(rows, columns=["source_mission", "year", "ccode"])
    years = t[["mission", "year"]].set_axis(["source_mission", "year"], axis=1)
    return _contributors(long, years, "tccmap")


def _contributors(long: pd.DataFrame, years: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per mission x observed year x contributor (contributor may be NA)."""
    obs = years.drop_duplicates().assign(ccode=pd.NA)
    out = pd.concat([long[["source_mission", "year", "ccode"]], obs], ignore_index=True)
    return out.assign(source=source, year=out.year.astype("int64"))


def un_missions(raw: Path, states: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """UN missions with at least one matched troop contributor.

    Returns a frame (mission, mission_type, mission_year, participants, excluded) and
    build statistics. ``mission_year`` is the mandate start year, or the first year the
    sources observe the mission when the mandate began before their coverage (1994).
    """
    names = cow_name_index(states)
    stats = NameMatches()
    both = pd.concat(
        [read_geopko(raw, names, stats), read_tccmap(raw, names, stats)], ignore_index=True
    )
    unknown = sorted(set(both.source_mission) - set(UN_MISSIONS))
    if unknown:
        raise SystemExit(f"build_panel: UN missions missing from UN_MISSIONS: {unknown}")
    rows, info = [], []
    for source_mission, grp in both.groupby("source_mission", sort=True):
        spec = UN_MISSIONS[source_mission]
        contributors = {int(c) for c in grp.ccode.dropna()}
        first_obs, last_obs = int(grp.year.min()), int(grp.year.max())
        year = spec.mandate_start if spec.mandate_start >= TCC_FIRST_YEAR else first_obs
        info.append(
            {
                "mission": spec.mission_id,
                "source_name": source_mission,
                "mandate_start": spec.mandate_start,
                "observed": f"{first_obs}-{last_obs}",
                "mission_year": year,
                "hosts": spec.hosts,
                "n_contributors": len(contributors - {US}),
                "sources": "+".join(sorted(grp.dropna(subset=["ccode"]).source.unique())),
            }
        )
        if not contributors - {US}:
            continue
        rows.append(
            {
                "mission": spec.mission_id,
                "mission_type": "un_pko",
                "mission_year": year,
                "participants": frozenset(contributors),
                "excluded": frozenset(spec.hosts),
            }
        )
    stats_out = {"matched": stats.matched, "unmatched": stats.unmatched, "missions": info}
    return pd.DataFrame(rows), stats_out


def us_wars(raw: Path) -> pd.DataFrame:
    """US-led wars from COW Inter-State War v4.0 (dyad-years with sides).

    Participants are the states on the US side in any year of the war; the states on the
    other side and the host state(s) are not potential contributors.
    """
    w = pd.read_csv(raw / "peacesciencer" / "cow_war_inter.csv")
    rows = []
    for war in US_WARS:
        d = w[w.warnum == war.warnum]
        us_side = d.loc[d.ccode1 == US, "sidea1"].unique()
        if len(us_side) != 1:
            raise SystemExit(f"build_panel: war {war.warnum}: US side is {us_side}")
        allies = set(d.loc[d.sidea1 == us_side[0], "ccode1"].astype(int))
        enemies = set(d.loc[d.sidea1 != us_side[0], "ccode1"].astype(int))
        rows.append(
            {
                "mission": war.mission_id,
                "mission_type": "us_war",
                "mission_year": int(d.year.min()),
                "participants": frozenset(allies),
                "excluded": frozenset(set(war.hosts) | enemies),
            }
        )
    return pd.DataFrame(rows)


def skeleton(missions: pd.DataFrame, states: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Potential contributors x missions with the outcome and the grouping columns."""
    parts, dropped = [], {}
    for m in missions.itertuples(index=False):
        members = members_at_year_end(states, m.mission_year)
        members = members[~members.ccode.isin(m.excluded | {US})]
        in_panel = set(members.ccode)
        lost = sorted(set(m.participants) - in_panel - {US})
        if lost:
            dropped[m.mission] = lost
        parts.append(
            pd.DataFrame(
                {
                    "country": members.stateabb.to_numpy(),
                    "country_name": members.statenme.to_numpy(),
                    "ccode": members.ccode.to_numpy(),
                    "mission": m.mission,
                    "mission_year": m.mission_year,
                    "mission_type": m.mission_type,
                    "participation": members.ccode.isin(m.participants).astype(int).to_numpy(),
                }
            )
        )
    panel = pd.concat(parts, ignore_index=True)
    panel["region"] = [region_of(c) for c in panel.ccode]
    panel["era"] = np.where(panel.mission_year <= 1989, "cold_war", "post_cold_war")
    return panel, dropped


# --------------------------------------------------------------------------------------
# Covariates: each reader returns {(ccode, year): value}; the panel maps its own keys.
# --------------------------------------------------------------------------------------


def read_igo(raw: Path) -> dict:
    """COW IGO v3: joint full IGO memberships with the US by (ccode, year)."""
    i = pd.read_csv(raw / "peacesciencer" / "cow_igo_ndy_us_dyads.csv")
    other = np.where(i.ccode1 == US, i.ccode2, i.ccode1)
    return dict(zip(zip(other, i.year, strict=True), i.dyadigos.astype(int), strict=True))


def inst_ties(panel: pd.DataFrame, igo: dict) -> list:
    """IGO count in mission_year; after 2014, the 2014 value if at most 5 years earlier."""
    keys = []
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        year = y if y <= IGO_LAST_YEAR else IGO_LAST_YEAR
        keys.append((c, year) if y - year <= IGO_MAX_CARRY else (c, -1))
    return lookup(igo, keys)


ATOP_TYPES = ["atop_defense", "atop_offense", "atop_neutral", "atop_nonagg", "atop_consul"]


def read_atop(raw: Path) -> dict:
    """ATOP v5.1: obligation types in force with the US (either direction) by (ccode, year)."""
    a = pd.read_csv(raw / "peacesciencer" / "atop_alliance_us_dyads.csv")
    a = a.assign(other=np.where(a.ccode1 == US, a.ccode2, a.ccode1))
    g = a.groupby(["other", "year"])[ATOP_TYPES].max().astype(int)
    return {key: tuple(row) for key, row in zip(g.index, g.to_numpy(), strict=True)}


def atop_columns(panel: pd.DataFrame, atop: dict) -> tuple[list, list]:
    """Number of obligation types (0-5) and defense-or-offense pact (0/1).

    ATOP lists alliance dyad-years only, so a dyad-year absent from it has no obligation
    (0) as long as the year is inside ATOP's coverage (<= 2018).
    """
    n_types, alliance = [], []
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        if y > ATOP_LAST_YEAR:
            n_types.append(None)
            alliance.append(None)
            continue
        obl = atop.get((c, y), (0, 0, 0, 0, 0))
        n_types.append(int(sum(obl)))
        alliance.append(int(obl[0] or obl[1]))
    return n_types, alliance


def read_dipex(raw: Path) -> tuple[dict, dict]:
    """COW Diplomatic Exchange: ties with the US and which states each wave covers."""
    d = pd.read_csv(raw / "cow_diplomatic_exchange" / "diplomatic_exchange_edges_1817_2005.csv")
    covered: dict[int, set[int]] = {}
    for year, grp in d.groupby("year"):
        covered[int(year)] = set(grp.from_ccode) | set(grp.to_ccode)
    us = d[(d.from_ccode == US) | (d.to_ccode == US)]
    other = np.where(us.from_ccode == US, us.to_ccode, us.from_ccode)
    ties = {(int(c), int(y)): 1 for c, y in zip(other, us.year, strict=True)}
    return ties, covered


def dipex_us(panel: pd.DataFrame, ties: dict, covered: dict) -> list:
    """Representation in either direction at the latest wave <= mission_year covering the state.

    A state is covered by a wave when it appears in any edge of that wave; waves more than
    10 years before mission_year are not used.
    """
    out = []
    waves = sorted(covered, reverse=True)
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        value = None
        for wave in waves:
            if wave > y:
                continue
            if y - wave > DIPEX_MAX_LAG:
                break
            if c in covered[wave]:
                value = ties.get((c, wave), 0)
                break
        out.append(value)
    return out


def read_mme(raw: Path) -> pd.DataFrame:
    """MME v7: one row per exercise x participant (COW codes), with the exercise start year."""
    m = pd.read_csv(raw / "troopdata" / "mme-v7-long.csv", low_memory=False)
    m = m.assign(start=m.groupby("MMEID").year.transform("min"))
    codes = []
    for gw, name, year in zip(m.gwcode, m.country, m.start, strict=True):
        if pd.notna(gw):
            codes.append(gw_to_cow(int(gw), int(year)))
        else:
            codes.append(MME_NAME_TO_COW.get(str(name).strip().lower()))
    m = m.assign(ccode=codes).dropna(subset=["ccode"])
    return m[["MMEID", "start", "ccode"]].astype({"ccode": "int64"}).drop_duplicates()


def exercises_us_5y(panel: pd.DataFrame, mme: pd.DataFrame) -> list:
    """Exercises with the US that started in [mission_year-5, mission_year-1].

    Missing unless the whole window lies inside MME's coverage (1980-2010).
    """
    us_ex = set(mme.loc[mme.ccode == US, "MMEID"])
    joint = mme[mme.MMEID.isin(us_ex) & (mme.ccode != US)]
    per_year = joint.groupby(["ccode", "start"]).MMEID.nunique().to_dict()
    out = []
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        lo, hi = y - 5, y - 1
        if lo < MME_FIRST_YEAR or hi > MME_LAST_YEAR:
            out.append(None)
            continue
        out.append(int(sum(per_year.get((c, t), 0) for t in range(lo, hi + 1))))
    return out


def read_troops(raw: Path) -> dict:
    """troopdata: US active-duty personnel by (ccode, year).

    From 2013 the file has two rows for some states (two spellings of the name, one of them
    all zeros); the larger value is kept. The file's Germany (255) before 1991 is the FRG.
    """
    t = pd.read_csv(raw / "troopdata" / "troopdata-rebuild-country-year.csv")
    g = t.groupby(["ccode", "year"]).troops_ad.max()
    table = {k: int(v) for k, v in g.items()}
    # troopdata codes West Germany as 255 throughout; COW's FRG (1955-1990) is 260.
    for (ccode, year), value in list(table.items()):
        if ccode == 255 and 1955 <= year <= 1990:
            table[(260, year)] = value
    return table


def read_unga(raw: Path) -> tuple[dict, dict]:
    """UNGA (Bailey, Strezhnev & Voeten, legacy release): pctagreeus and |ideal - ideal_US|."""
    u = pd.read_csv(raw / "unga_idealpoints" / "idealpoints_legacy_with_pctagreeus.csv")
    u = u.dropna(subset=["ccode", "year"]).astype({"ccode": "int64", "year": "int64"})
    us_ideal = u[u.ccode == US].set_index("year").idealpoint
    dist = (u.idealpoint - u.year.map(us_ideal)).abs()
    keys = list(zip(u.ccode, u.year, strict=True))
    agree = {k: float(v) for k, v in zip(keys, u.pctagreeus, strict=True) if pd.notna(v)}
    distance = {k: float(v) for k, v in zip(keys, dist, strict=True) if pd.notna(v)}
    return agree, distance


def aid_crosswalk(raw: Path) -> dict[str, tuple[int, ...]]:
    """ISO3 -> COW code(s), from the troopdata and UNGA 2025 files, plus documented extras."""
    t = pd.read_csv(raw / "troopdata" / "troopdata-rebuild-country-year.csv")
    u = pd.read_csv(raw / "unga_idealpoints" / "IdealpointsJuly2025.csv")
    cw = pd.concat([t[["iso3c", "ccode"]], u[["iso3c", "ccode"]]]).dropna().drop_duplicates()
    out: dict[str, set[int]] = {}
    for iso, c in zip(cw.iso3c, cw.ccode, strict=True):
        out.setdefault(str(iso), set()).add(int(c))
    out.pop("YAR", None)  # troopdata's own code for the two Yemens; the aid file uses YEM
    for iso, codes in AID_ISO_EXTRA.items():
        out[iso] = set(codes)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def read_aid(raw: Path) -> tuple[dict, set]:
    """Foreign Aid Explorer: Obligations, constant USD millions, by (ccode, fiscal year).

    The transition quarter ("1976tq") is dropped. Several aid entities mapped to one COW
    state (e.g. Sudan and "Sudan (former)") are summed. Returns the table and the set of
    COW codes that have any aid entity.
    """
    a = pd.read_csv(raw / "us_foreign_aid" / "us_foreign_aid_country.csv")
    a = a[(a.transaction_type_name == "Obligations") & a.fiscal_year.str.isdigit()]
    cw = aid_crosswalk(raw)
    rows = []
    for iso, name, fy, amount in zip(
        a.country_code, a.country_name, a.fiscal_year, a.constant_amount, strict=True
    ):
        codes = AID_NAME_TO_COW.get(name) or cw.get(str(iso), ())
        rows.extend((c, int(fy), amount / 1e6) for c in codes)
    g = pd.DataFrame(rows, columns=["ccode", "fy", "amount"]).groupby(["ccode", "fy"]).amount
    return g.sum().to_dict(), {r[0] for r in rows}


def _mean_aid(aid: dict, ccode: int, years: range) -> float | None:
    if years.start < AID_FIRST_FY or years.stop - 1 > AID_LAST_FY:
        return None
    return sum(aid.get((ccode, fy), 0.0) for fy in years) / len(years)


def aid_columns(panel: pd.DataFrame, aid: dict) -> tuple[list, list]:
    """Mean obligations over FY m-3..m-1, and the log1p change to FY m..m+2."""
    level, change = [], []
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        before = _mean_aid(aid, c, range(y - 3, y))
        after = _mean_aid(aid, c, range(y, y + 3))
        level.append(before)
        if before is None or after is None or before <= -1 or after <= -1:
            change.append(None)
        else:
            change.append(math.log1p(after) - math.log1p(before))
    return level, change


def read_cinc(raw: Path) -> dict:
    """COW NMC v7.0 CINC by (ccode, year)."""
    n = pd.read_csv(raw / "peacesciencer" / "cow_nmc.csv").dropna(subset=["cinc"])
    return dict(zip(zip(n.ccode, n.year, strict=True), n.cinc.astype(float), strict=True))


def read_capitals(raw: Path) -> pd.DataFrame:
    """COW capitals with coordinates and validity dates (one documented correction)."""
    c = pd.read_csv(raw / "peacesciencer" / "cow_capitals.csv")
    c = c.assign(stdate=pd.to_datetime(c.stdate), enddate=pd.to_datetime(c.enddate))
    for (ccode, capital), (lat, lng) in CAPITAL_FIXES.items():
        hit = (c.ccode == ccode) & (c.capital == capital)
        c.loc[hit, ["lat", "lng"]] = (lat, lng)
    return c


def dist_us_km(panel: pd.DataFrame, capitals: pd.DataFrame) -> list:
    """Great-circle distance between the capital on 1 July of mission_year and Washington."""
    cache: dict[tuple[int, int], float | None] = {}

    def capital_at(ccode: int, year: int) -> tuple[float, float] | None:
        day = pd.Timestamp(f"{year}-07-01")
        hit = capitals[
            (capitals.ccode == ccode) & (capitals.stdate <= day) & (capitals.enddate >= day)
        ]
        return None if hit.empty else (float(hit.lat.iloc[0]), float(hit.lng.iloc[0]))

    out = []
    for c, y in zip(panel.ccode, panel.mission_year, strict=True):
        if (c, y) not in cache:
            here, us = capital_at(c, y), capital_at(US, y)
            cache[(c, y)] = None if here is None or us is None else haversine_km(*here, *us)
        out.append(cache[(c, y)])
    return out


# --------------------------------------------------------------------------------------
# Assembly and output
# --------------------------------------------------------------------------------------


def prior_year_keys(panel: pd.DataFrame) -> list[tuple[int, int]]:
    """(ccode, mission_year - 1) keys."""
    return list(zip(panel.ccode, panel.mission_year - 1, strict=True))


def same_year_keys(panel: pd.DataFrame) -> list[tuple[int, int]]:
    """(ccode, mission_year) keys."""
    return list(zip(panel.ccode, panel.mission_year, strict=True))


def troop_keys(panel: pd.DataFrame) -> list[tuple[int, int]]:
    """(ccode, mission_year - 1) inside troopdata's coverage, else a key that never matches."""
    return [
        (c, y) if TROOPS_FIRST_YEAR <= y <= TROOPS_LAST_YEAR else (c, -1)
        for c, y in prior_year_keys(panel)
    ]


def add_covariates(panel: pd.DataFrame, raw: Path) -> tuple[pd.DataFrame, dict]:
    """Attach every covariate column (one source at a time)."""
    p = panel.copy()
    p["inst_ties"] = inst_ties(p, read_igo(raw))
    p["atop_obligations"], p["alliance"] = atop_columns(p, read_atop(raw))
    p["dipex_us"] = dipex_us(p, *read_dipex(raw))
    p["exercises_us_5y"] = exercises_us_5y(p, read_mme(raw))
    p["us_troops"] = lookup(read_troops(raw), troop_keys(p))
    agree, distance = read_unga(raw)
    p["un_agree_us"] = lookup(agree, prior_year_keys(p))
    p["ideal_distance_us"] = lookup(distance, prior_year_keys(p))
    aid, aid_codes = read_aid(raw)
    p["us_aid"], p["us_aid_change"] = aid_columns(p, aid)
    p["cinc"] = lookup(read_cinc(raw), same_year_keys(p))
    p["dist_us_km"] = dist_us_km(p, read_capitals(raw))
    no_aid_entity = sorted(set(p.ccode) - aid_codes)
    return p, {"no_aid_entity": no_aid_entity}


def finalise(panel: pd.DataFrame) -> pd.DataFrame:
    """Fixed column order, dtypes and row order."""
    p = panel[COLUMNS].copy()
    for col in INT_COLUMNS:
        p[col] = pd.array([None if v is None or pd.isna(v) else int(v) for v in p[col]], "Int64")
    for col in FLOAT_FORMATS:
        p[col] = pd.array([np.nan if v is None else float(v) for v in p[col]], "float64")
    for col in ["country", "country_name", "region", "mission", "mission_type", "era"]:
        p[col] = p[col].astype(str)
    return p.sort_values(["mission_year", "mission", "ccode"], kind="stable").reset_index(drop=True)


def to_csv_text(panel: pd.DataFrame) -> str:
    """Deterministic CSV text: fixed float formats, empty cells for missing values."""
    out = panel.astype(object)
    for col, fmt in FLOAT_FORMATS.items():
        out[col] = [("" if pd.isna(v) else fmt.format(v)) for v in panel[col]]
    for col in INT_COLUMNS:
        out[col] = [("" if pd.isna(v) else str(int(v))) for v in panel[col]]
    return out.to_csv(index=False, lineterminator="\n")


def build(raw: Path) -> tuple[pd.DataFrame, dict]:
    """Build the panel from ``raw``; returns the frame and build statistics."""
    states = read_states(raw)
    un, un_stats = un_missions(raw, states)
    missions = pd.concat([un, us_wars(raw)], ignore_index=True)
    panel, dropped = skeleton(missions, states)
    panel, cov_stats = add_covariates(panel, raw)
    panel = finalise(panel)
    henke = henke_check(raw, panel, un_stats["missions"])
    return panel, {**un_stats, **cov_stats, "dropped_participants": dropped, "henke": henke}


def henke_check(raw: Path, panel: pd.DataFrame, missions: list[dict]) -> dict:
    """Agreement with Henke's UN fatality data (a partial, independent record of who served).

    A contingent that lost military personnel in a mission during the years our sources
    observe it should be coded as a participant. Returns counts of such pairs.
    """
    h = pd.read_csv(raw / "pko_missions" / "Contigent-mission-month_data.csv")
    h = h[(h.Mil > 0) & h.Cowcontr.notna()]
    window = {}
    for m in missions:
        first, last = (int(x) for x in m["observed"].split("-"))
        window[m["source_name"]] = (m["mission"], max(first, m["mission_year"]), last)
    coded = dict(
        zip(zip(panel.mission, panel.ccode, strict=True), panel.participation, strict=True)
    )
    pairs = set()
    for name, year, ccode in zip(h.Mission, h.Year, h.Cowcontr.astype(int), strict=True):
        if name in window and window[name][1] <= year <= window[name][2]:
            pairs.add((window[name][0], ccode))
    found = [coded.get(p) for p in sorted(pairs)]
    return {
        "pairs": len(pairs),
        "coded_1": int(sum(v == 1 for v in found)),
        "coded_0": int(sum(v == 0 for v in found)),
        "not_in_panel": sorted(p for p, v in zip(sorted(pairs), found, strict=True) if v is None),
        "coded_0_pairs": sorted(p for p, v in zip(sorted(pairs), found, strict=True) if v == 0),
    }


def summarise(panel: pd.DataFrame, stats: dict, emit: Callable[[str], None] = log) -> None:
    """Write the counts that data/README.md reports."""
    emit(
        f"rows {len(panel)}, missions {panel.mission.nunique()}, countries {panel.ccode.nunique()}"
    )
    rate = panel.groupby("mission_type").participation.agg(["mean", "sum", "size"])
    emit("participation by mission type:\n" + rate.to_string())
    emit("missing by column:\n" + panel.isna().sum().to_string())
    emit(f"TCC names matched {stats['matched']}, unmatched: {stats['unmatched']}")
    emit(f"participants outside the panel (host / not a member): {stats['dropped_participants']}")
    emit(f"panel states without any aid entity: {stats['no_aid_entity']}")
    emit(f"check against Henke fatalities: {stats['henke']}")
    emit("missions:\n" + pd.DataFrame(stats["missions"]).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=DEFAULT_RAW, help="raw data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output CSV path")
    parser.add_argument("--quiet", action="store_true", help="no build log")
    args = parser.parse_args(argv)
    if not (args.raw / "PROVENANCE.md").is_file():
        parser.error(f"{args.raw}: not a raw data folder (no PROVENANCE.md)")
    panel, stats = build(args.raw)
    text = to_csv_text(panel)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    if not args.quiet:
        summarise(panel, stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
