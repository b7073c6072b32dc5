"""Data validation at the edge: each problem is one DataError naming the column and rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcausal.data import validate
from embedcausal.errors import DataError
from embedcausal.prepared import prepare
from embedcausal.spec import load_spec

HERE = Path(__file__).parent / "model_files"


@pytest.fixture
def spec():
    return load_spec(HERE / "valid.toml")


@pytest.fixture
def frame():
    return pd.read_csv(HERE / "tiny.csv")


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_valid_frame_passes(spec, frame):
    used, dropped = validate(spec, frame)
    assert len(used) == len(frame) and dropped == []


def test_outcome_not_binary(spec, frame):
    frame.loc[7, "participation"] = 2
    with pytest.raises(DataError) as info:
        validate(spec, frame)
    msg = one_line(info)
    assert "'participation'" in msg and "0/1" in msg and "rows 7" in msg


def test_missing_values_listed_with_count(spec, frame):
    frame.loc[[3, 5, 9], "inst_ties"] = np.nan
    with pytest.raises(DataError) as info:
        validate(spec, frame)
    msg = one_line(info)
    assert "'inst_ties'" in msg and "3 missing" in msg and "rows 3, 5, 9" in msg
    assert 'data.missing = "drop"' in msg


def test_missing_values_dropped_only_when_asked(spec, frame):
    frame.loc[[3, 5], "threat"] = np.nan
    drop = spec.replace(data={"missing": "drop"})
    used, dropped = validate(drop, frame, adjustment=["threat"])
    assert dropped == [3, 5] and len(used) == len(frame) - 2
    prepared = prepare(drop, frame, adjustment=["threat"])
    assert prepared.dropped == [3, 5] and prepared.n_obs == len(frame) - 2


def test_group_with_one_level(spec, frame):
    frame["mission"] = "M0"
    with pytest.raises(DataError, match=r"grouping column 'mission' has 1 level"):
        validate(spec, frame)


def test_constant_treatment(spec, frame):
    frame["inst_ties"] = 4
    with pytest.raises(DataError, match=r"treatment column 'inst_ties' is constant"):
        validate(spec, frame)


def test_wrong_type(spec, frame):
    frame["personal_ties"] = frame["personal_ties"].astype(str)
    frame.loc[4, "personal_ties"] = "high"
    with pytest.raises(DataError) as info:
        validate(spec, frame)
    msg = one_line(info)
    assert "'personal_ties'" in msg and "numeric" in msg and "'high'" in msg and "rows 4" in msg


def test_duplicate_rows(spec, frame):
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    with pytest.raises(DataError, match=r"1 duplicate row"):
        validate(spec, frame)


def test_duplicate_key(spec, frame):
    keyed = spec.replace(data={"key": ["country", "mission"]})
    frame.loc[1, "mission"] = frame.loc[0, "mission"]
    with pytest.raises(DataError, match=r"repeat the key \['country', 'mission'\]"):
        validate(keyed, frame)


def test_missing_column_suggests(spec, frame):
    frame = frame.rename(columns={"personal_ties": "personal_tie"})
    with pytest.raises(DataError, match=r"column 'personal_ties' .* did you mean 'personal_tie'"):
        validate(spec, frame)


def test_latent_node_as_column(frame):
    spec = load_spec(HERE / "valid.toml")
    raw = dict(spec.raw)
    raw["dag"] = {**raw["dag"], "edges": [*raw["dag"]["edges"], "threat -> personal_ties"]}
    frame["disposition"] = 1.0
    raw["dag"]["edges"] = [
        *raw["dag"]["edges"],
        "disposition -> participation",
        "disposition -> inst_ties",
    ]
    raw["dag"]["latent"] = ["disposition"]
    from embedcausal.spec import ModelSpec

    s = ModelSpec.from_dict(raw, source="x.toml", base_dir=HERE)
    with pytest.raises(DataError, match=r"latent node 'disposition'"):
        validate(s, frame)


def test_count_mediator_must_be_counts(spec, frame):
    s = spec.replace(model={"mediator_family": "poisson"})
    with pytest.raises(DataError, match=r"non-negative integers"):
        validate(s, frame)


def test_prepare_builds_labelled_design(spec, frame):
    p = prepare(spec, frame, adjustment=["threat"])
    assert list(p.coords) == ["obs", "mission", "region", "country"]
    assert [x.name for x in p.y_predictors] == ["inst_ties", "personal_ties", "threat"]
    assert [x.name for x in p.m_predictors] == ["inst_ties", "threat"]
    assert p.nested == {"country": "region"}
    np.testing.assert_allclose(p.X_y.mean(axis=0), 0, atol=1e-12)
    t = frame["inst_ties"].to_numpy(float)
    assert p.contrast == (np.percentile(t, 25), np.percentile(t, 75))
    assert len(p.data_hash) == 64


def test_within_between_split(spec, frame):
    s = spec.replace(model={"within_between": ["inst_ties"]})
    p = prepare(s, frame)
    names = [x.name for x in p.y_predictors]
    assert names[:2] == ["inst_ties[within]", "inst_ties[between]"]
    within = p.X_y[:, 0] * p.y_predictors[0].scale
    by_country = pd.Series(within).groupby(frame["country"]).mean()
    np.testing.assert_allclose(by_country, 0, atol=1e-10)


def test_nested_grouping_must_nest(spec, frame):
    frame.loc[0, "region"] = "R9"
    with pytest.raises(DataError, match=r"'country' 'C00' lies in 2 different 'region' groups"):
        prepare(spec, frame)
