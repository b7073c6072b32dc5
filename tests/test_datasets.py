"""The shipped coalition panel: loader types, panel shape, known facts, rebuild from raw data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcausal.datasets import (
    MISSION_TYPES,
    PANEL_COLUMNS,
    REGIONS,
    load_coalition_panel,
    panel_path,
)
from embedcausal.errors import DataError

REPO = Path(__file__).resolve().parents[1]
RAW = REPO.parent / "shared" / "data" / "raw"
BUILD_SCRIPT = REPO / "data" / "build" / "build_panel.py"
US_WARS = ["KOREA", "VIETNAM", "GULF", "KOSOVO", "AFGHANISTAN", "IRAQ"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return load_coalition_panel()


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("build_panel", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_panel"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("build_panel", None)


def participation(panel: pd.DataFrame, country: str, mission: str) -> int:
    row = panel[(panel.country == country) & (panel.mission == mission)]
    assert len(row) == 1, f"{country} x {mission}: {len(row)} rows"
    return int(row.participation.iloc[0])


# ---- loader -----------------------------------------------------------------------------


def test_shipped_panel_found_next_to_package():
    assert panel_path() == REPO / "data" / "coalition_panel.csv"
    assert panel_path().is_file()


def test_columns_and_types(panel):
    assert list(panel.columns) == list(PANEL_COLUMNS)
    assert all(PANEL_COLUMNS[c] and "\n" not in PANEL_COLUMNS[c] for c in PANEL_COLUMNS)
    for col in ["country", "country_name", "mission"]:
        assert pd.api.types.is_string_dtype(panel[col]), col
    for col in ["ccode", "mission_year", "participation", "inst_ties", "alliance"]:
        assert panel[col].dtype == np.int64, col
    for col in ["dipex_us", "exercises_us_5y", "us_troops"]:
        assert panel[col].dtype == "Int64", col
    for col in ["un_agree_us", "ideal_distance_us", "us_aid", "us_aid_change", "cinc"]:
        assert panel[col].dtype == np.float64, col
    assert list(panel.region.cat.categories) == REGIONS
    assert list(panel.mission_type.cat.categories) == MISSION_TYPES


def test_missing_file_names_expected_path(tmp_path):
    target = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match=r"nowhere\.csv") as exc:
        load_coalition_panel(target)
    assert "\n" not in str(exc.value)


def test_missing_column_is_named(panel, tmp_path):
    target = tmp_path / "panel.csv"
    panel.drop(columns="inst_ties").head(20).to_csv(target, index=False)
    with pytest.raises(DataError, match="'inst_ties' missing"):
        load_coalition_panel(target)


def test_bad_category_and_bad_integer_are_named(panel, tmp_path):
    target = tmp_path / "panel.csv"
    bad = panel.head(5).astype({"region": str})
    bad.loc[3, "region"] = "Atlantis"
    bad.to_csv(target, index=False)
    with pytest.raises(DataError, match=r"'region' row 3: value 'Atlantis'"):
        load_coalition_panel(target)
    bad = panel.head(5).astype({"inst_ties": float})
    bad.loc[2, "inst_ties"] = 2.5
    bad.to_csv(target, index=False)
    with pytest.raises(DataError, match=r"'inst_ties' row 2: value 2\.5; expected an integer"):
        load_coalition_panel(target)


# ---- panel shape and coding rules ----------------------------------------------------------


def test_panel_size(panel):
    assert len(panel) >= 2000
    assert panel.mission.nunique() >= 20
    assert panel.ccode.nunique() >= 100
    assert set(US_WARS) <= set(panel.mission)
    assert (panel.groupby("mission").participation.sum() >= 1).all()


def test_one_row_per_country_and_mission(panel):
    assert not panel.duplicated(["ccode", "mission"]).any()
    assert not panel.duplicated(["country", "mission"]).any()
    assert (panel.groupby("country").ccode.nunique() == 1).all()
    assert (panel.groupby("mission")[["mission_year", "mission_type"]].nunique() == 1).all().all()


def test_us_and_hosts_are_not_potential_contributors(panel):
    assert not (panel.ccode == 2).any()
    hosts = {"KOREA": ["ROK", "PRK"], "IRAQ": ["IRQ"], "GULF": ["IRQ", "KUW"], "UNMIL": ["LBR"]}
    for mission, countries in hosts.items():
        assert not panel[(panel.mission == mission) & panel.country.isin(countries)].size
    # the other side of a US war is not a potential contributor either (China in Korea)
    assert not panel[(panel.mission == "KOREA") & (panel.country == "CHN")].size


def test_grouping_rules(panel):
    assert ((panel.era == "cold_war") == (panel.mission_year <= 1989)).all()
    assert set(panel.loc[panel.mission.isin(US_WARS), "mission_type"]) == {"us_war"}
    bounds = {"Americas": (2, 199), "Europe": (200, 399), "Africa": (400, 599)}
    bounds |= {"Middle East": (600, 699), "Asia": (700, 899), "Oceania": (900, 999)}
    for region, (lo, hi) in bounds.items():
        assert panel.loc[panel.region == region, "ccode"].between(lo, hi).all(), region


def test_known_participants_as_the_sources_code_them(panel):
    assert participation(panel, "UKG", "KOREA") == 1  # COW war 151, US side
    assert participation(panel, "TUR", "KOREA") == 1
    assert participation(panel, "AUL", "IRAQ") == 1  # COW war 227: USA, UKG, AUL
    assert participation(panel, "AUL", "AFGHANISTAN") == 1
    # COW war 211 lists no Australian combat contingent: the panel follows the source
    assert participation(panel, "AUL", "GULF") == 0
    assert participation(panel, "GMY", "KOSOVO") == 1
    assert participation(panel, "JPN", "GULF") == 0
    for country in ["PAK", "BNG", "NIG"]:
        assert participation(panel, country, "UNMIL") == 1
    assert participation(panel, "IRE", "UNIFIL") == 1
    assert participation(panel, "UKG", "UNMIL") == 0


def test_covariate_ranges(panel):
    assert panel.atop_obligations.between(0, 5).all()
    assert (panel.alliance <= (panel.atop_obligations > 0)).all()
    assert panel.un_agree_us.dropna().between(0, 1).all()
    assert (panel.ideal_distance_us.dropna() >= 0).all()
    assert panel.cinc.dropna().between(0, 1).all()
    assert panel.dist_us_km.dropna().between(500, 20_016).all()
    assert (panel.us_troops.dropna() >= 0).all()
    uk_korea = panel[(panel.country == "UKG") & (panel.mission == "KOREA")].iloc[0]
    assert 5800 < uk_korea.dist_us_km < 6000  # London - Washington


def test_missingness_follows_coverage_rules(panel):
    in_mme = panel.mission_year.between(1985, 2011)
    assert panel.loc[~in_mme, "exercises_us_5y"].isna().all()
    assert panel.loc[in_mme, "exercises_us_5y"].notna().all()
    assert panel.loc[panel.mission == "KOREA", "us_troops"].isna().all()  # troopdata from 1950
    assert panel.loc[panel.mission_year > 2015, "dipex_us"].isna().all()  # last wave 2005


# ---- the build script ----------------------------------------------------------------------


def test_build_helpers(build_module):
    assert build_module.region_of(2) == "Americas"
    assert build_module.region_of(399) == "Europe"
    assert build_module.region_of(626) == "Middle East"
    assert build_module.region_of(990) == "Oceania"
    assert build_module.gw_to_cow(260, 1995) == 255
    assert build_module.gw_to_cow(260, 1985) == 260
    assert build_module.haversine_km(0, 0, 0, 180) == pytest.approx(np.pi * 6371.0088)
    m = build_module.TCC_ENTRY.match("Korea (ROK) (size unknown)")
    assert m.group("name") == "Korea (ROK)"


@pytest.mark.skipif(
    not (RAW / "PROVENANCE.md").is_file(),
    reason=f"raw sources not available at {RAW}; the rebuild check needs them",
)
def test_rebuild_is_byte_identical(build_module, tmp_path):
    out = tmp_path / "panel.csv"
    assert build_module.main([str(RAW), "--out", str(out), "--quiet"]) == 0
    assert out.read_bytes() == panel_path().read_bytes()
