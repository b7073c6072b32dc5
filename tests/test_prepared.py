"""The prepared panel: the treatment contrast it resolves (binary default, equal ends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


def test_binary_treatment_defaults_to_zero_one(spec, frame):
    frame["inst_ties"] = (frame["inst_ties"] > frame["inst_ties"].median()).astype(int)
    # p25 and p75 of such a column can both be 0 (or 0 and 0.25 with interpolation): not used
    assert prepare(spec, frame).contrast == (0.0, 1.0)


def test_continuous_treatment_defaults_to_quartiles(spec, frame):
    t = frame["inst_ties"].to_numpy(float)
    assert prepare(spec, frame).contrast == (np.percentile(t, 25), np.percentile(t, 75))


def test_explicit_contrast_on_binary_treatment_is_kept(spec, frame):
    frame["inst_ties"] = np.arange(len(frame)) % 2
    s = spec.replace(estimand={"contrast": {"from": 1.0, "to": 0.0}})
    assert prepare(s, frame).contrast == (1.0, 0.0)


def test_default_quartiles_equal_in_data_name_both_ends_and_column(spec, frame):
    # 0/2 valued: not binary, and its quartiles coincide
    frame["inst_ties"] = np.where(np.arange(len(frame)) % 10 == 0, 2.0, 0.0)
    with pytest.raises(DataError) as exc:
        prepare(spec, frame)
    msg = str(exc.value)
    assert "\n" not in msg
    for part in ("estimand.contrast", "'p25'", "'p75'", "'inst_ties'", "default"):
        assert part in msg


def test_unset_varying_takes_the_groupings_present(spec, frame, caplog):
    import logging

    from embedcausal.plan import design

    unset = spec.replace(model={"varying": None})
    assert unset.model.varying is None and unset.varying == ["country", "mission"]
    with caplog.at_level(logging.INFO, logger="embedcausal"):
        d = design(unset, frame.drop(columns=["country"]))
    assert d.spec.model.varying == ["mission"]
    assert list(d.data.group_codes) == ["mission"]
    assert "model.varying not set; varying intercepts by mission (no column country" in caplog.text
    none = design(unset, frame.drop(columns=["country", "mission", "region"]))
    assert none.spec.model.varying == [] and none.data.group_codes == {}
    assert spec.for_columns(["x"]) is spec  # set explicitly: kept as it is


def test_factor_with_one_level_is_refused(spec, frame):
    frame["threat"] = "high"
    s = spec.replace(data={"factors": ["threat"]})
    with pytest.raises(DataError) as exc:
        prepare(s, frame, adjustment=["threat"])
    msg = str(exc.value)
    assert "factor 'threat'" in msg and "'high'" in msg and "\n" not in msg
