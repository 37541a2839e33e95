"""joins: hand-built frames with known answers, and the golden tables."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from leanplum_notebook import joins
from leanplum_notebook.load import load

BIG = 2**63 - 1


def _sessions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sessionId": np.array([BIG, -5, 7], dtype="int64"),
            "userId": pd.array(["a", "b", "c"], dtype="string"),
            "deviceId": pd.array(["d1", "d2", None], dtype="string"),
            "start": pd.to_datetime([1_000, 2_000, 3_000], unit="s", utc=True).as_unit("ms"),
            "duration": [10.0, 20.0, 30.0],
            "timezoneOffset": pd.array([3600, None, -7200], dtype="Int64"),
        }
    )


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "eventId": np.array([1, 2, 2, 3], dtype="int64"),
            "sessionId": np.array([7, BIG, BIG, 999], dtype="int64"),
            "start": pd.to_datetime([3_001, 1_001, 1_002, 5], unit="s", utc=True).as_unit("ms"),
            "duration": [1.0, 2.0, 3.0, 4.0],
        }
    )


def test_events_with_sessions_left_join_keeps_order_and_renames_clashes() -> None:
    events, sessions = _events(), _sessions()
    out = joins.events_with_sessions(
        events, sessions, columns=("userId", "start", "duration", "timezoneOffset")
    )
    assert list(out.columns) == [
        "eventId", "sessionId", "start", "duration",
        "userId", "sessionStart", "sessionDuration", "timezoneOffset",
    ]  # fmt: skip
    assert out["eventId"].tolist() == [1, 2, 2, 3]
    assert out["userId"].tolist()[:3] == ["c", "a", "a"] and pd.isna(out["userId"][3])
    assert out["sessionStart"][1] == pd.Timestamp(1_000, unit="s", tz="UTC")
    assert out["sessionDuration"].tolist()[:3] == [30.0, 10.0, 10.0]
    assert str(out["timezoneOffset"].dtype) == "Int64" and str(out["userId"].dtype) == "string"
    pd.testing.assert_frame_equal(events, _events())  # input untouched
    with pytest.raises(ValueError, match="no column"):
        joins.events_with_sessions(events, sessions, columns=("nope",))
    with pytest.raises(ValueError, match="repeated sessionId"):
        joins.events_with_sessions(events, pd.concat([sessions, sessions]))


def test_pivot_attributes_infers_types() -> None:
    long = pd.DataFrame(
        {
            "sessionId": np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 3], dtype="int64"),
            "name": pd.Categorical(
                ["vip", "level", "score", "plan", "big", "vip", "level", "score", "big", "plan"]
            ),
            "value": pd.array(
                ["True", "5", "2.5", "free", str(BIG), "false", "12", "3", "-1", "pro"],
                dtype="string",
            ),
        }
    )
    wide = joins.pivot_attributes(long)
    assert list(wide.columns) == ["sessionId", "big", "level", "plan", "score", "vip"]
    assert wide["sessionId"].tolist() == [1, 2, 3]
    assert str(wide["vip"].dtype) == "boolean" and wide["vip"].tolist()[:2] == [True, False]
    assert str(wide["level"].dtype) == "Int64" and wide["level"].tolist()[:2] == [5, 12]
    assert wide["big"].tolist()[:2] == [BIG, -1]  # exact, not through float
    assert wide["score"].dtype == "float64" and wide["score"].tolist()[:2] == [2.5, 3.0]
    assert str(wide["plan"].dtype) == "string" and wide["plan"].tolist()[2] == "pro"
    assert pd.isna(wide["vip"][2]) and pd.isna(wide["level"][2])
    untyped = joins.pivot_attributes(long, names=["level", "missing"], infer_types=False)
    assert list(untyped.columns) == ["sessionId", "level", "missing"]
    assert str(untyped["level"].dtype) == "string" and untyped["missing"].isna().all()


def test_sessions_with_attributes_and_events_with_parameters() -> None:
    sessions = _sessions()
    attrs = pd.DataFrame(
        {
            "sessionId": np.array([-5, -5], dtype="int64"),
            "name": pd.Categorical(["userId", "plan"]),
            "value": pd.array(["x", "free"], dtype="string"),
        }
    )
    out = joins.sessions_with_attributes(sessions, attrs)
    assert out["attr_userId"].tolist()[1] == "x" and out["userId"].tolist() == ["a", "b", "c"]
    assert out["plan"].isna().tolist() == [True, False, True]

    events = _events()
    params = pd.DataFrame(
        {
            "eventId": np.array([2, 2, 3], dtype="int64"),
            "name": pd.Categorical(["sku", "price", "sku"]),
            "value": pd.array(["gold", "4.99", "iron"], dtype="string"),
        }
    )
    with_params = joins.events_with_parameters(events, params)
    assert with_params["sku"].tolist()[1:] == ["gold", "gold", "iron"]
    assert with_params["price"].tolist()[1] == 4.99 and pd.isna(with_params["price"][0])
    assert len(with_params) == len(events)


def test_local_time() -> None:
    sessions = _sessions()
    local = joins.local_time(sessions["start"], sessions["timezoneOffset"])
    assert local.dt.tz is None and str(local.dtype) == "datetime64[ms]"
    assert local[0] == pd.Timestamp(1_000 + 3600, unit="s")
    assert pd.isna(local[1])
    assert local[2] == pd.Timestamp(3_000 - 7200, unit="s")
    with pytest.raises(TypeError, match="datetimes"):
        joins.local_time(sessions["duration"], sessions["timezoneOffset"])


def test_joins_on_golden_tables(tmp_path: Path, lh: ModuleType) -> None:
    tables = load(lh.copy_golden(tmp_path, "json"), progress=False)
    joined = joins.events_with_sessions(tables.events, tables.sessions)
    reference = tables.events.merge(
        tables.sessions[["sessionId", "userId"]], on="sessionId", how="left"
    )
    assert joined["userId"].tolist() == reference["userId"].tolist()
    assert joined["userId"].notna().all()
    wide = joins.pivot_attributes(tables.user_attributes)
    assert wide["sessionId"].is_unique
    assert set(wide.columns) - {"sessionId"} == set(tables.user_attributes["name"].astype(str))
    with_attrs = tables.joined("sessions")
    assert len(with_attrs) == len(tables.sessions)
