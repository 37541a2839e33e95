"""Metrics on small hand-built tables whose right answer is worked out here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leanplum_notebook import metrics
from leanplum_notebook.analysis import metrics as metrics_impl  # its private helpers

T0 = pd.Timestamp("2026-01-05T18:00:00Z")  # a Monday, 10:00 Pacific (PST, UTC-8)


def day(n: int) -> pd.Timestamp:
    """Naive midnight of the n-th day after 2026-01-05 (any calendar)."""
    return pd.Timestamp("2026-01-05") + pd.Timedelta(days=n)


def at(days: float, hours: float = 0.0) -> str:
    return (T0 + pd.Timedelta(days=days, hours=hours)).isoformat()


def sess(sid: int, user: str, start: str, **kw: Any) -> dict[str, Any]:
    row = {"sessionId": sid, "userId": user, "start": start, "isSession": True, "duration": 60.0}
    row.update(kw)
    return row


def ev(eid: int, sid: int, name: str, start: str, value: float = 0.0) -> dict[str, Any]:
    return {
        "eventId": eid,
        "stateId": 1,
        "sessionId": sid,
        "eventName": name,
        "start": start,
        "value": value,
    }


# ---------------------------------------------------------------- calendars


@pytest.fixture
def midnight_sessions(build: Any) -> pd.DataFrame:
    # A: 07:30 UTC Jan 10 = 23:30 Jan 9 Pacific; offset +1h -> 08:30 Jan 10 local.
    # B: 09:00 UTC Jan 10 = 01:00 Jan 10 Pacific; offset -10h -> 23:00 Jan 9 local.
    return build(
        "sessions",
        [
            sess(1, "A", "2026-01-10T07:30:00Z", timezoneOffset=3600),
            sess(2, "B", "2026-01-10T09:00:00Z", timezoneOffset=-36000),
        ],
    )


def test_active_users_pacific_utc_and_local_days_differ(midnight_sessions: pd.DataFrame) -> None:
    jan9, jan10 = pd.Timestamp("2026-01-09"), pd.Timestamp("2026-01-10")
    pacific = metrics.active_users(midnight_sessions, tz="pacific")
    assert list(pacific["period"]) == [jan9, jan10]
    assert list(pacific["active_users"]) == [1, 1]
    utc = metrics.active_users(midnight_sessions, tz="utc")
    assert list(utc["period"]) == [jan10]
    assert list(utc["active_users"]) == [2]
    local = metrics.active_users(midnight_sessions, tz="local")
    assert list(local["period"]) == [jan9, jan10]
    assert list(local["active_users"]) == [1, 1]
    # which user is on which day: Pacific puts A on the 9th, local puts B there
    only_a = midnight_sessions[midnight_sessions["userId"] == "A"]
    assert list(metrics.active_users(only_a, tz="pacific")["period"]) == [jan9]
    assert list(metrics.active_users(only_a, tz="local")["period"]) == [jan10]


def test_active_users_weeks_months_and_gaps(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "u1", at(0)),  # Mon Jan 5
            sess(2, "u1", at(6)),  # Sun Jan 11, same week
            sess(3, "u2", at(6)),
            sess(4, "u2", at(14)),  # Mon Jan 19: the week of Jan 12 is empty
            sess(5, "u3", at(27)),  # Feb 1
        ],
    )
    weekly = metrics.active_users(s, freq="W")
    assert list(weekly["period"]) == [day(0), day(7), day(14), day(21)]
    assert list(weekly["active_users"]) == [2, 0, 1, 1]
    monthly = metrics.active_users(s, freq="M")
    assert list(monthly["period"]) == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")]
    assert list(monthly["active_users"]) == [2, 1]
    daily = metrics.active_users(s)
    assert len(daily) == 28 and daily["active_users"].sum() == 5  # five distinct user-days


def test_non_sessions_do_not_make_users_active(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "u1", at(0)),
            sess(2, "u2", at(0), isSession=False),
            sess(3, "u3", at(0), isSession=None),  # missing counts as a session
        ],
    )
    assert list(metrics.active_users(s)["active_users"]) == [2]
    spu = metrics.sessions_per_user(s)
    assert list(spu["sessions"]) == [2]


# ---------------------------------------------------------------- engagement


def test_engagement_rolling_windows(build: Any) -> None:
    s = build(
        "sessions",
        [sess(1, "u1", at(0)), sess(2, "u1", at(8)), sess(3, "u2", at(3)), sess(4, "u2", at(3, 1))],
    )
    e = metrics.engagement(s)
    assert list(e.columns) == ["day", "dau", "wau", "mau", "stickiness", "dau_wau", "data_days"]
    assert list(e["day"]) == [day(i) for i in range(9)]
    assert list(e["dau"]) == [1, 0, 0, 1, 0, 0, 0, 0, 1]
    # day 7's window is days 1..7: u1's day 0 has left it
    assert list(e["wau"]) == [1, 1, 1, 2, 2, 2, 2, 1, 2]
    assert list(e["mau"]) == [1, 1, 1, 2, 2, 2, 2, 2, 2]
    assert e["stickiness"].tolist() == [1.0, 0, 0, 0.5, 0, 0, 0, 0, 0.5]
    # day 7: u2 (day 3) is in the week, u1 (day 0) is not, nobody active that day
    assert e["dau_wau"].tolist() == [1.0, 0, 0, 0.5, 0, 0, 0, 0, 0.5]
    # the windows see 1..9 days of data: WAU is complete from day 6 (7 days), MAU never
    assert e["data_days"].tolist() == list(range(1, 10))
    assert e["data_days"].dtype == "int64"


def test_engagement_matches_brute_force(build: Any) -> None:
    rng = np.random.default_rng(3)
    rows = [
        sess(i, f"u{rng.integers(15)}", at(int(rng.integers(60)), float(rng.uniform(0, 23))))
        for i in range(300)
    ]
    s = build("sessions", rows)
    e = metrics.engagement(s, tz="utc")
    days = s["start"].dt.tz_localize(None).dt.floor("D")
    for window, col in ((7, "wau"), (30, "mau")):
        expected = [
            s.loc[
                ((days > d - pd.Timedelta(days=window)) & (days <= d)).to_numpy(), "userId"
            ].nunique()
            for d in e["day"]
        ]
        assert e[col].tolist() == expected


def test_engagement_one_day(build: Any) -> None:
    e = metrics.engagement(build("sessions", [sess(1, "u1", at(0)), sess(2, "u2", at(0, 2))]))
    assert e[["dau", "wau", "mau"]].to_numpy().tolist() == [[2, 2, 2]]
    assert e["stickiness"].tolist() == [1.0]


# ---------------------------------------------------------------- new users, sessions


def test_new_users_by_first_run(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "u1", at(0), userStart=at(0)),
            sess(2, "u1", at(1), userStart=at(0)),
            sess(3, "old", at(1), userStart=at(-5)),  # first run before the data
            sess(4, "u3", at(2), userStart=at(2)),
            sess(5, "u4", at(2), userStart=at(1, 1)),  # first run day 1, first session day 2
        ],
    )
    n = metrics.new_users(s)
    assert list(n["day"]) == [day(0), day(1), day(2)]
    assert list(n["new_users"]) == [1, 1, 1]


def test_new_users_local_calendar(build: Any) -> None:
    # first run 07:30 UTC Jan 10: Jan 9 in Pacific, Jan 10 for a user at UTC+1
    s = build(
        "sessions",
        [
            sess(
                1,
                "A",
                "2026-01-10T07:30:00Z",
                userStart="2026-01-10T07:30:00Z",
                timezoneOffset=3600,
            ),
            sess(
                2,
                "B",
                "2026-01-09T20:00:00Z",
                userStart="2026-01-09T20:00:00Z",
                timezoneOffset=3600,
            ),
        ],
    )
    assert metrics.new_users(s, tz="pacific")["new_users"].tolist() == [2]
    local = metrics.new_users(s, tz="local")
    assert list(local["day"]) == [pd.Timestamp("2026-01-09"), pd.Timestamp("2026-01-10")]
    assert local["new_users"].tolist() == [1, 1]


def test_sessions_per_user(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "u1", at(0)),
            sess(2, "u1", at(0, 3)),
            sess(3, "u2", at(0)),
            sess(4, "u1", at(2)),
            sess(5, "u2", at(2), isSession=False),
        ],
    )
    spu = metrics.sessions_per_user(s)
    assert spu["sessions"].tolist() == [3, 0, 1]
    assert spu["users"].tolist() == [2, 0, 1]
    assert spu["sessions_per_user"].iloc[0] == 1.5
    assert math.isnan(spu["sessions_per_user"].iloc[1])
    assert spu["sessions_per_user"].iloc[2] == 1.0


def test_session_lengths_drop_long_and_offline(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "u", at(0), duration=10.0),
            sess(2, "u", at(0), duration=8 * 3600.0),
            sess(3, "u", at(0), duration=8 * 3600.0 + 1),
            sess(4, "u", at(0), duration=None),
            sess(5, "u", at(0), duration=5.0, isSession=False),
            sess(6, "u", at(0), duration=0.0),
        ],
    )
    out = metrics.session_lengths(s)
    assert out.name == "duration"
    assert out.to_dict() == {1: 10.0, 2: 28800.0, 6: 0.0}
    assert metrics.session_lengths(s, max_duration=60).tolist() == [10.0, 0.0]


# ---------------------------------------------------------------- retention


@pytest.fixture
def cohort_sessions(build: Any) -> pd.DataFrame:
    rows = [
        sess(1, "u1", at(0), userStart=at(0)),
        sess(2, "u1", at(1), userStart=at(0)),
        sess(3, "u1", at(3), userStart=at(0)),
        sess(4, "u2", at(0, 1), userStart=at(0, 1)),
        sess(5, "u2", at(2), userStart=at(0, 1)),
        sess(6, "u3", at(1), userStart=at(1)),
        sess(7, "u3", at(2), userStart=at(1)),
        sess(8, "u3", at(3), userStart=at(1), isSession=False),  # not activity
        sess(9, "old", at(0), userStart=at(-9)),  # joined before the data: no cohort
        sess(10, "old", at(3), userStart=at(-9)),
    ]
    return build("sessions", rows)


def test_retention_classic(cohort_sessions: pd.DataFrame) -> None:
    r = metrics.retention(cohort_sessions, max_periods=3)
    assert list(r.columns) == ["cohort_size", 0, 1, 2, 3]
    assert list(r.index) == [day(0), day(1)]
    assert r["cohort_size"].tolist() == [2, 1]
    np.testing.assert_array_equal(r.loc[day(0), [0, 1, 2, 3]].to_numpy(float), [1, 0.5, 0.5, 0.5])
    np.testing.assert_array_equal(r.loc[day(1), [0, 1, 2, 3]].to_numpy(float), [1, 1, 0, np.nan])


def test_retention_rolling(cohort_sessions: pd.DataFrame) -> None:
    r = metrics.retention(cohort_sessions, kind="rolling", max_periods=3)
    np.testing.assert_array_equal(r.loc[day(0), [0, 1, 2, 3]].to_numpy(float), [1, 1, 1, 0.5])
    np.testing.assert_array_equal(r.loc[day(1), [0, 1, 2, 3]].to_numpy(float), [1, 1, 0, np.nan])


def test_retention_by_first_session_includes_returning_users(
    cohort_sessions: pd.DataFrame,
) -> None:
    r = metrics.retention(cohort_sessions, max_periods=3, cohort_by="first_session")
    assert r["cohort_size"].tolist() == [3, 1]  # "old" joins the first cohort
    assert r.loc[day(0), 3] == pytest.approx(2 / 3)
    # day 0: u1 (days 0, 1, 3), u2 (0, 2), old (0, 3); day 1: u3 (1, 2; day 3 is offline)
    np.testing.assert_allclose(
        r.loc[day(0), [0, 1, 2, 3]].to_numpy(float), [1, 1 / 3, 1 / 3, 2 / 3]
    )
    np.testing.assert_array_equal(r.loc[day(1), [0, 1, 2, 3]].to_numpy(float), [1, 1, 0, np.nan])
    rolling = metrics.retention(
        cohort_sessions, kind="rolling", max_periods=3, cohort_by="first_session"
    )
    np.testing.assert_allclose(rolling.loc[day(0), [0, 1, 2, 3]].to_numpy(float), [1, 1, 1, 2 / 3])
    np.testing.assert_array_equal(
        rolling.loc[day(1), [0, 1, 2, 3]].to_numpy(float), [1, 1, 0, np.nan]
    )


def test_retention_by_first_session_on_interleaved_users(build: Any) -> None:
    # users appear in an order unlike their cohorts' order, so a cohort given to the wrong
    # user shows: z starts on day 2, a on day 0, m on day 1
    rows = [
        sess(1, "z", at(2)),
        sess(2, "a", at(3)),
        sess(3, "m", at(1)),
        sess(4, "a", at(0)),
        sess(5, "m", at(3)),
        sess(6, "z", at(4)),
        sess(7, "a", at(1)),
    ]
    r = metrics.retention(build("sessions", rows), max_periods=4, cohort_by="first_session")
    assert list(r.index) == [day(0), day(1), day(2)]
    assert r["cohort_size"].tolist() == [1, 1, 1]
    np.testing.assert_array_equal(r.loc[day(0), [0, 1, 2, 3, 4]].to_numpy(float), [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(r.loc[day(1), [0, 1, 2, 3]].to_numpy(float), [1, 0, 1, 0])
    np.testing.assert_array_equal(r.loc[day(2), [0, 1, 2]].to_numpy(float), [1, 0, 1])


def test_retention_curve_weights_by_cohort_size(cohort_sessions: pd.DataFrame) -> None:
    table = metrics.retention(cohort_sessions, max_periods=3)
    every = metrics.retention_curve(table, min_cohorts=1, min_share=0)
    assert every["period"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(every["retention"], [1.0, 2 / 3, 1 / 3, 0.5])
    assert every["users"].tolist() == [3, 3, 3, 2]
    assert every["cohorts"].tolist() == [2, 2, 2, 1]
    # by default period 3, seen by one of the two cohorts only, is left out
    curve = metrics.retention_curve(table)
    assert curve["period"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(curve["retention"], [1.0, 2 / 3, 1 / 3])


def staircase(sizes: list[int], rates: list[float]) -> pd.DataFrame:
    """A retention table whose i-th (oldest first) cohort is seen up to period n - 1 - i."""
    n = len(sizes)
    cells = [[r if j < n - i else np.nan for j, r in enumerate(rates)] for i in range(n)]
    table = pd.DataFrame(
        cells,
        index=pd.DatetimeIndex([day(i) for i in range(n)], name="cohort"),
        columns=list(range(len(rates))),
    )
    table.insert(0, "cohort_size", pd.Series(sizes, index=table.index, dtype="int64"))
    return table


def test_retention_curve_leaves_out_thin_tails() -> None:
    # 4 cohorts of 10, 10, 10, 70 users (100 at period 0); period 1 rests on the three
    # oldest (30 users), period 2 on two (20), period 3 on one (10).
    table = staircase([10, 10, 10, 70], [1.0, 0.4, 0.3, 0.9])
    table.loc[day(1), 1] = 0.1  # the second cohort retains less on day 1
    curve = metrics.retention_curve(table)
    assert curve["period"].tolist() == [0, 1]  # periods 2, 3 rest on fewer than 3 cohorts
    np.testing.assert_allclose(curve["retention"], [1.0, (4 + 1 + 4) / 30])
    assert curve["users"].tolist() == [100, 30] and curve["cohorts"].tolist() == [4, 3]
    two = metrics.retention_curve(table, min_cohorts=2)
    assert two["period"].tolist() == [0, 1, 2]
    # the share floor: period 1 holds 30 % of the period-0 users, period 2 holds 20 %
    assert metrics.retention_curve(table, min_cohorts=2, min_share=0.25)["period"].tolist() == [
        0,
        1,
    ]
    assert metrics.retention_curve(table, min_share=0.31)["period"].tolist() == [0]
    # the lone cohort's 90 % at period 3 (the spike the floor is there to hide)
    every = metrics.retention_curve(table, min_cohorts=1, min_share=0)
    assert every["retention"].iloc[-1] == pytest.approx(0.9)
    # fewer cohorts than min_cohorts in the whole table: the floor is capped at what exists
    single = staircase([5], [1.0])
    assert metrics.retention_curve(single)["period"].tolist() == [0]
    with pytest.raises(ValueError, match="min_cohorts"):
        metrics.retention_curve(table, min_cohorts=0)
    with pytest.raises(ValueError, match="min_share"):
        metrics.retention_curve(table, min_share=1.5)


def test_retention_weekly(build: Any) -> None:
    rows = [
        sess(1, "a", at(0), userStart=at(0)),  # week of Jan 5
        sess(2, "a", at(13), userStart=at(0)),  # week of Jan 12 (Sunday Jan 18)
        sess(3, "b", at(6), userStart=at(6)),  # Sunday: still week of Jan 5
        sess(4, "c", at(7), userStart=at(7)),  # Monday: week of Jan 12
    ]
    r = metrics.retention(build("sessions", rows), period="week", max_periods=2)
    assert list(r.index) == [day(0), day(7)]
    assert r["cohort_size"].tolist() == [2, 1]
    np.testing.assert_array_equal(r.loc[day(0)].to_numpy(float)[1:], [1, 0.5, np.nan])
    np.testing.assert_array_equal(r.loc[day(7)].to_numpy(float)[1:], [1, np.nan, np.nan])


def test_retention_uses_complete_weeks_only(build: Any) -> None:
    # data from Wednesday Jan 7 to Wednesday Jan 28: complete weeks are Jan 12 and Jan 19
    rows = [
        sess(1, "a", at(2), userStart=at(2)),  # joins in the cut first week: no cohort
        sess(2, "a", at(23), userStart=at(2)),
        sess(3, "b", at(7), userStart=at(7)),
        sess(4, "b", at(15), userStart=at(7)),
        sess(5, "b", at(22), userStart=at(7)),  # week of Jan 26 is cut short: not seen
        sess(6, "c", at(14), userStart=at(14)),
    ]
    r = metrics.retention(build("sessions", rows), period="week", max_periods=2)
    assert list(r.index) == [day(7), day(14)]
    assert r["cohort_size"].tolist() == [1, 1]
    np.testing.assert_array_equal(r.loc[day(7)].to_numpy(float)[1:], [1, 1, np.nan])
    np.testing.assert_array_equal(r.loc[day(14)].to_numpy(float)[1:], [1, np.nan, np.nan])
    short = build("sessions", [*rows[:1], sess(7, "a", at(4), userStart=at(2))])
    assert metrics.retention(short, period="week").empty  # no complete week at all


def test_retention_pacific_versus_utc(build: Any) -> None:
    # Joins 23:00 Pacific Jan 5 (07:00 UTC Jan 6), back 09:00 Pacific Jan 6 (17:00 UTC Jan 6):
    # day 1 in Pacific, day 0 in UTC.
    rows = [
        sess(1, "a", "2026-01-06T07:00:00Z", userStart="2026-01-06T07:00:00Z"),
        sess(2, "a", "2026-01-06T17:00:00Z", userStart="2026-01-06T07:00:00Z"),
    ]
    s = build("sessions", rows)
    assert metrics.retention(s, max_periods=1).iloc[0, 1:].tolist() == [1.0, 1.0]
    utc = metrics.retention(s, max_periods=1, tz="utc").iloc[0, 1:].to_numpy(float)
    np.testing.assert_array_equal(utc, [1.0, np.nan])


def test_retention_on_utc_and_local_days_uses_whole_days_only(build: Any) -> None:
    """The data covers Pacific days Jan 5-8 (08:00 UTC Jan 5 to 08:00 UTC Jan 9). The UTC
    day Jan 5 and a Tokyo-time day Jan 5 are only partly inside: no cohort starts there
    (it would be undercounted), and the last whole day ends the table."""
    rows = [
        sess(1, "a", at(0), userStart=at(0)),  # 18:00 UTC Jan 5: a partial UTC day
        sess(2, "a", at(1), userStart=at(0)),
        sess(3, "b", at(1), userStart=at(1)),  # 18:00 UTC Jan 6
        sess(4, "b", at(2), userStart=at(1)),
        sess(5, "c", at(3, 5), userStart=at(3, 5)),  # 23:00 UTC Jan 8 (15:00 Pacific)
    ]
    s = build("sessions", rows)
    pacific = metrics.retention(s, max_periods=3)
    assert list(pacific.index) == [day(0), day(1), day(3)]
    utc = metrics.retention(s, max_periods=3, tz="utc")
    assert list(utc.index) == [day(1), day(3)]  # Jan 5 (UTC) is cut by the data's start
    np.testing.assert_array_equal(utc.loc[day(1)].to_numpy(float)[1:], [1, 1, 0, np.nan])
    # local days: +9 h (Tokyo) and -5 h (New York); only Jan 6-8 are whole for both
    tokyo = build("sessions", [{**row, "timezoneOffset": 9 * 3600} for row in rows[:4]])
    both = pd.concat(
        [tokyo, build("sessions", [{**rows[4], "timezoneOffset": -5 * 3600}])],
        ignore_index=True,
    )
    local = metrics.retention(both, max_periods=3, tz="local")
    # a: Jan 6 03:00 Tokyo (joins on Jan 6, which is whole); b: Jan 7; c: Jan 8 18:00 NY
    assert list(local.index) == [day(1), day(2), day(3)]


@pytest.mark.parametrize(
    ("tz", "offsets", "first", "last"),
    [
        ("pacific", None, "2026-03-07", "2026-03-09"),
        # Pacific midnights: 08:00 UTC Mar 7 (PST) to 07:00 UTC Mar 10 (PDT, after the change)
        ("utc", None, "2026-03-08", "2026-03-09"),
        ("local", (0.0, 0.0), "2026-03-08", "2026-03-09"),
        ("local", (-8 * 3600.0, -8 * 3600.0), "2026-03-07", "2026-03-08"),
        ("local", (-12 * 3600.0, 14 * 3600.0), "2026-03-08", "2026-03-08"),
    ],
)
def test_whole_days_across_a_dst_change(tz: Any, offsets: Any, first: str, last: str) -> None:
    days = metrics_impl._whole_days(
        pd.Timestamp("2026-03-07T09:00:00Z"),  # 01:00 PST Mar 7
        pd.Timestamp("2026-03-10T06:00:00Z"),  # 23:00 PDT Mar 9
        tz,
        offsets,
    )
    assert days == (pd.Timestamp(first), pd.Timestamp(last))


# ---------------------------------------------------------------- events


@pytest.fixture
def event_tables(build: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    sessions = build(
        "sessions",
        [sess(1, "u1", at(0)), sess(2, "u2", at(0)), sess(3, "u1", at(2))],
    )
    events = build(
        "events",
        [
            ev(1, 1, "Open Store", at(0)),
            ev(2, 1, "Open Store", at(0, 0.1)),
            ev(3, 2, "Open Store", at(0, 0.2)),
            ev(4, 2, "Purchase", at(0, 0.3), 4.5),
            ev(5, 3, "Open Store", at(2)),
            ev(6, 3, ".m77", at(2)),
            ev(7, 3, ".m77", at(2)),
            ev(8, 3, ".m77", at(2)),
        ],
    )
    return sessions, events


def test_event_counts(event_tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, events = event_tables
    c = metrics.event_counts(events, names=["Open Store", "Purchase"])
    assert list(c.columns) == ["period", "eventName", "count"]
    got = {(p, n): k for p, n, k in c.itertuples(index=False)}
    assert got == {
        (day(0), "Open Store"): 3,
        (day(0), "Purchase"): 1,
        (day(1), "Open Store"): 0,
        (day(1), "Purchase"): 0,
        (day(2), "Open Store"): 1,
        (day(2), "Purchase"): 0,
    }
    weekly = metrics.event_counts(events, freq="W")
    assert weekly.set_index("eventName")["count"].to_dict() == {
        ".m77": 3,
        "Open Store": 4,
        "Purchase": 1,
    }


def test_event_counts_local_needs_offsets(
    build: Any, event_tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, events = event_tables
    with pytest.raises(ValueError, match="timezoneOffset"):
        metrics.event_counts(events, tz="local")
    s = build("sessions", [sess(1, "u1", at(0), timezoneOffset=14 * 3600)])
    # 10:00 Pacific + 14 h ahead of UTC = 08:00 next day local
    c = metrics.event_counts(events, tz="local", sessions=s)
    assert c["period"].unique().tolist() == [day(1)]
    assert c["count"].sum() == 2


def test_top_events(event_tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    sessions, events = event_tables
    top = metrics.top_events(events, sessions=sessions)
    assert top.to_dict("list") == {
        "eventName": ["Open Store", "Purchase"],
        "count": [4, 1],
        "sessions": [3, 1],
        "users": [2, 1],
    }
    with_messages = metrics.top_events(events, n=1, exclude_messages=False)
    assert with_messages["eventName"].tolist() == ["Open Store"]
    assert with_messages["users"].isna().all()  # no sessions: users unknown
    assert metrics.top_events(events, exclude_messages=False)["eventName"].tolist()[1] == ".m77"


def test_message_stats(build: Any) -> None:
    names = [".m12"] * 4 + [".m12 Open", ".m12 View", ".m99 Open", "Purchase", ".m5", ".m5 Open"]
    events = build("events", [ev(i, 1, n, at(0)) for i, n in enumerate(names)])
    m = metrics.message_stats(events)
    assert list(m.columns) == ["messageId", "sent", "opened", "open_rate"]
    assert m[["messageId", "sent", "opened"]].to_dict("list") == {
        "messageId": [12, 5, 99],
        "sent": [4, 1, 0],
        "opened": [1, 1, 1],
    }
    assert m["open_rate"].tolist()[:2] == [0.25, 1.0]
    assert math.isnan(m["open_rate"].iloc[2])


# ---------------------------------------------------------------- funnels


def test_funnel_ordered_within_window(build: Any) -> None:
    users = {"X": 1, "Y": 2, "Z": 3, "V": 4, "W": 5}
    sessions = build("sessions", [sess(sid, u, at(0)) for u, sid in users.items()])
    steps = [
        ("X", "A", 0),
        ("X", "B", 1),
        ("X", "C", 2),
        ("Y", "A", 0),
        ("Y", "C", 1),
        ("Y", "B", 2),  # C before B: stops at B
        ("Z", "A", 0),
        ("Z", "B", 48),  # B too late
        ("V", "A", 0),
        ("V", "A", 47),
        ("V", "B", 48),
        ("V", "C", 48.5),  # second try works
        ("W", "B", 0),
        ("W", "C", 1),  # never starts
    ]
    events = build("events", [ev(i, users[u], n, at(0, h)) for i, (u, n, h) in enumerate(steps)])
    f = metrics.funnel(events, sessions, ["A", "B", "C"])
    assert list(f.columns) == ["step", "users", "conversion", "drop_off"]
    assert f["step"].tolist() == ["A", "B", "C"]
    assert f["users"].tolist() == [4, 3, 2]
    np.testing.assert_allclose(f["conversion"], [1, 0.75, 0.5])
    np.testing.assert_allclose(f["drop_off"], [0, 0.25, 1 / 3])
    wide = metrics.funnel(events, sessions, ["A", "B", "C"], within=pd.Timedelta(days=3))
    assert wide["users"].tolist() == [4, 4, 2]


def test_funnel_repeated_step_needs_two_events(build: Any) -> None:
    sessions = build("sessions", [sess(1, "a", at(0)), sess(2, "b", at(0))])
    events = build(
        "events",
        [ev(1, 1, "A", at(0)), ev(2, 2, "A", at(0)), ev(3, 2, "A", at(0))],  # same instant
    )
    f = metrics.funnel(events, sessions, ["A", "A", "A"])
    assert f["users"].tolist() == [2, 1, 0]


# ---------------------------------------------------------------- money


def test_revenue(build: Any) -> None:
    sessions = build(
        "sessions",
        [
            sess(1, "u1", at(0)),
            sess(2, "u2", at(0)),
            sess(3, "u3", at(0)),
            sess(4, "u1", at(1)),
            sess(5, "u4", at(1), isSession=False),  # server-side purchase: revenue, not active
        ],
    )
    events = build(
        "events",
        [
            ev(1, 1, "Purchase", at(0), 5.0),
            ev(2, 1, "Purchase", at(0, 1), 3.0),
            ev(3, 2, "Purchase", at(0), 2.0),
            ev(4, 3, "Open Store", at(0), 100.0),
            ev(5, 5, "Purchase", at(1), 1.0),
        ],
    )
    r = metrics.revenue(events, sessions)
    assert list(r.columns) == ["day", "revenue", "paying_users", "active_users", "arpdau", "arppu"]
    assert r["revenue"].tolist() == [10.0, 1.0]
    assert r["paying_users"].tolist() == [2, 1]
    assert r["active_users"].tolist() == [3, 1]
    np.testing.assert_allclose(r["arpdau"], [10 / 3, 1.0])
    np.testing.assert_allclose(r["arppu"], [5.0, 1.0])


def test_revenue_by_session_day_or_event_day(build: Any) -> None:
    # session starts 23:50 Pacific on day 0; the purchase comes at 00:10 on day 1
    sessions = build("sessions", [sess(1, "u1", at(0, 13 + 50 / 60))])
    events = build("events", [ev(1, 1, "Purchase", at(0, 14 + 10 / 60), 4.0)])
    by_session = metrics.revenue(events, sessions)
    assert by_session[["revenue", "active_users"]].to_numpy().tolist() == [[4.0, 1.0]]
    assert by_session["arpdau"].tolist() == [4.0]
    by_event = metrics.revenue(events, sessions, by="event")
    assert list(by_event["day"]) == [day(0), day(1)]
    assert by_event["revenue"].tolist() == [0.0, 4.0]
    assert by_event["active_users"].tolist() == [1, 0]
    assert math.isnan(by_event["arpdau"].iloc[1])
    with pytest.raises(ValueError, match="by must be"):
        metrics.revenue(events, sessions, by="purchase")  # type: ignore[arg-type]


def _experiment_tables(
    build: Any, spec: dict[int, list[list[float]]], *, experiment: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """spec: variant -> per user, the purchase values (after entering)."""
    sessions, exps, events = [], [], []
    sid = eid = 0
    for variant, users in spec.items():
        for i, buys in enumerate(users):
            sid += 1
            user = f"v{variant}u{i}"
            sessions.append(sess(sid, user, at(0, 1)))
            exps.append({"experimentId": experiment, "sessionId": sid, "variantId": variant})
            for value in buys:
                eid += 1
                events.append(ev(eid, sid, "Purchase", at(0, 2), value))
    return build("experiments", exps), build("sessions", sessions), build("events", events)


def test_experiment_results_hand_computed(build: Any) -> None:
    # ids one apart above 2**53 (a float would merge them) and an experiment id at the limit
    v1, v2 = 2**62 + 1, 2**62 + 2
    exps, sessions, events = _experiment_tables(
        build, {v1: [[10.0], [], [], []], v2: [[10.0], [15.0, 5.0], [], []]}, experiment=2**63 - 1
    )
    # a purchase before the user entered the experiment does not count
    sessions = pd.concat(
        [sessions, build("sessions", [sess(99, "v1u1", at(-1))])], ignore_index=True
    )
    early = build("events", [ev(999, 99, "Purchase", at(-1), 50.0)])
    events = pd.concat([events, early], ignore_index=True)
    r = metrics.experiment_results(exps, sessions, events).set_index("variantId")
    assert r.index.tolist() == [v1, v2]
    assert (
        metrics.experiment_results(exps, sessions, events)["experimentId"].tolist()
        == [2**63 - 1] * 2
    )
    r = r.rename(index={v1: 1, v2: 2})
    z = 1.959963984540054
    assert r["users"].tolist() == [4, 4]
    assert r["converters"].tolist() == [1, 2]
    assert r["conversion"].tolist() == [0.25, 0.5]
    for v, p in ((1, 0.25), (2, 0.5)):
        centre = (p + z * z / 8) / (1 + z * z / 4)
        half = z / (1 + z * z / 4) * math.sqrt(p * (1 - p) / 4 + z * z / 64)
        assert r.loc[v, "conversion_low"] == pytest.approx(centre - half)
        assert r.loc[v, "conversion_high"] == pytest.approx(centre + half)
    # revenue per user: control [10,0,0,0] mean 2.5 var 25; variant [10,20,0,0] mean 7.5
    assert r.loc[1, "revenue_per_user"] == 2.5
    assert r.loc[1, "rpu_low"] == pytest.approx(2.5 - z * 2.5)
    var2 = (2.5**2 + 12.5**2 + 2 * 7.5**2) / 3
    assert r.loc[2, "rpu_high"] == pytest.approx(7.5 + z * math.sqrt(var2 / 4))
    # lift 0.5/0.25 - 1 = 1; se(log ratio) = sqrt(0.5/(4*0.5) + 0.75/(4*0.25)) = 1
    assert r.loc[2, "lift"] == pytest.approx(1.0)
    assert r.loc[2, "lift_low"] == pytest.approx(math.exp(math.log(2) - z) - 1)
    assert r.loc[2, "lift_high"] == pytest.approx(math.exp(math.log(2) + z) - 1)
    assert bool(r.loc[1, "is_control"]) and r.loc[1, "lift"] == 0.0
    assert math.isnan(r.loc[1, "lift_low"])
    # another control
    other = metrics.experiment_results(exps, sessions, events, control=v2).set_index("variantId")
    assert other.loc[v1, "lift"] == pytest.approx(-0.5)
    assert other["is_control"].tolist() == [False, True]
    with pytest.raises(ValueError, match="control variant 3 is not in experiment"):
        metrics.experiment_results(exps, sessions, events, control=3)


def test_experiment_intervals_separate_real_from_null_effects(build: Any) -> None:
    rng = np.random.default_rng(11)

    def users(n: int, rate: float) -> list[list[float]]:
        return [[float(rng.uniform(1, 10))] if rng.random() < rate else [] for _ in range(n)]

    n = 3000
    exps, sessions, events = _experiment_tables(
        build, {1: users(n, 0.10), 2: users(n, 0.13), 3: users(n, 0.10)}
    )
    r = metrics.experiment_results(exps, sessions, events).set_index("variantId")
    assert r.loc[2, "lift_low"] > 0  # +30 % relative: the interval excludes zero
    assert r.loc[3, "lift_low"] < 0 < r.loc[3, "lift_high"]  # no effect: it includes zero
    assert r.loc[2, "rpu_lift_low"] > 0


# ---------------------------------------------------------------- breakdowns


def test_breakdown(build: Any) -> None:
    s = build(
        "sessions",
        [
            sess(1, "a", at(0), client="ios"),
            sess(2, "a", at(0), client="ios"),
            sess(3, "a", at(0), client="web"),  # a user on two platforms counts in both
            sess(4, "b", at(0), client="android"),
            sess(5, "c", at(0), client="android"),
            sess(6, "d", at(0), client=None),
            sess(7, "e", at(0), client="web", isSession=False),
        ],
    )
    users = metrics.breakdown(s, "client")
    assert users.to_dict("list") == {
        "client": ["android", "(unknown)", "ios", "web"],
        "users": [2, 1, 1, 1],
        "share": [0.4, 0.2, 0.2, 0.2],
    }
    sessions = metrics.breakdown(s, "client", metric="sessions", top=1)
    assert sessions.to_dict("list") == {
        "client": ["android", "(other)"],
        "sessions": [2, 4],
        "share": [1 / 3, 2 / 3],
    }


# ---------------------------------------------------------------- empty data, bad input


def test_empty_tables_give_empty_frames_with_columns(build: Any) -> None:
    s, e, x = build("sessions", []), build("events", []), build("experiments", [])
    expected = {
        "active_users": (metrics.active_users(s), ["period", "active_users"]),
        "engagement": (
            metrics.engagement(s),
            ["day", "dau", "wau", "mau", "stickiness", "dau_wau", "data_days"],
        ),
        "new_users": (metrics.new_users(s), ["day", "new_users"]),
        "spu": (metrics.sessions_per_user(s), ["day", "sessions", "users", "sessions_per_user"]),
        "events": (metrics.event_counts(e), ["period", "eventName", "count"]),
        "top": (metrics.top_events(e), ["eventName", "count", "sessions", "users"]),
        "funnel": (metrics.funnel(e, s, ["A", "B"]), ["step", "users", "conversion", "drop_off"]),
        "revenue": (
            metrics.revenue(e, s),
            ["day", "revenue", "paying_users", "active_users", "arpdau", "arppu"],
        ),
        "messages": (metrics.message_stats(e), ["messageId", "sent", "opened", "open_rate"]),
        "breakdown": (metrics.breakdown(s, "country"), ["country", "users", "share"]),
        "retention_curve": (
            metrics.retention_curve(metrics.retention(s)),
            ["period", "retention", "users", "cohorts"],
        ),
    }
    for name, (frame, columns) in expected.items():
        assert list(frame.columns) == columns, name
        assert len(frame) == (2 if name == "funnel" else 0), name
    assert metrics.funnel(e, s, ["A", "B"])["users"].tolist() == [0, 0]
    r = metrics.retention(s, max_periods=3)
    assert list(r.columns) == ["cohort_size", 0, 1, 2, 3] and r.empty
    assert metrics.session_lengths(s).empty
    x_out = metrics.experiment_results(x, s, e)
    assert x_out.empty and "lift_low" in x_out.columns


def test_bad_arguments_are_named(build: Any) -> None:
    s = build("sessions", [sess(1, "u", at(0))])
    with pytest.raises(ValueError, match="tz must be"):
        metrics.active_users(s, tz="Europe/Paris")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="freq must be"):
        metrics.active_users(s, freq="Q")
    with pytest.raises(ValueError, match="kind must be"):
        metrics.retention(s, kind="weekly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"missing column\(s\) \['userId'\]"):
        metrics.active_users(s.drop(columns="userId"))
    with pytest.raises(ValueError, match="confidence"):
        metrics.experiment_results(build("experiments", []), s, build("events", []), confidence=95)
    with pytest.raises(ValueError, match="at least one step"):
        metrics.funnel(build("events", []), s, [])


def _funnel_brute_force(
    events: pd.DataFrame, sessions: pd.DataFrame, steps: list[str], within: pd.Timedelta
) -> list[int]:
    """Per user, try every start and follow the earliest next step: a plain-Python reference."""
    users = dict(zip(sessions["sessionId"], sessions["userId"], strict=True))
    rows = sorted(
        (
            (users[sid], t, i, name)
            for i, (sid, t, name) in enumerate(
                zip(events["sessionId"], events["start"], events["eventName"], strict=True)
            )
        ),
        key=lambda r: (r[0], r[1], r[2]),
    )
    depth: dict[str, int] = {}
    for u in {r[0] for r in rows}:
        seq = [(t, name) for uu, t, _, name in rows if uu == u]
        best = 0
        for i, (t0, name) in enumerate(seq):
            if name != steps[0]:
                continue
            reached, pos = 1, i
            for step in steps[1:]:
                nxt = next((j for j in range(pos + 1, len(seq)) if seq[j][1] == step), None)
                if nxt is None or seq[nxt][0] - t0 > within:
                    break
                reached, pos = reached + 1, nxt
            best = max(best, reached)
        depth[u] = best
    return [sum(1 for d in depth.values() if d >= k) for k in range(1, len(steps) + 1)]


@pytest.mark.parametrize("seed", range(6))
def test_funnel_matches_brute_force(build: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users = 25
    sessions = build("sessions", [sess(i, f"u{i}", at(0)) for i in range(n_users)])
    names = ["A", "B", "C", "D"]
    rows = [
        ev(
            k,
            int(rng.integers(n_users)),
            names[int(rng.integers(4))],
            at(0, float(rng.integers(0, 72)) / 2),  # half-hour grid: ties happen
        )
        for k in range(400)
    ]
    events = build("events", rows)
    for steps in (["A", "B", "C"], ["B", "B", "A", "D"], ["C"]):
        for within in (pd.Timedelta("3h"), pd.Timedelta("1D")):
            got = metrics.funnel(events, sessions, steps, within=within)["users"].tolist()
            assert got == _funnel_brute_force(events, sessions, steps, within), (steps, within)
