"""The synthetic data generator: determinism, per-day independence, quirks, realism."""

from __future__ import annotations

import importlib.util
import math
import statistics
import sys
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leanplum_notebook.simulator.generator import (
    INT64_MAX,
    INT64_MIN,
    DataConfig,
    Generator,
    JavaFloat,
    SessionRecord,
    java_double,
    pause_gc,
)
from leanplum_notebook.simulator.writers import dumps_line

APP = 4727756026281984
END = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc).timestamp()  # 13:00 PDT
PACIFIC = ZoneInfo("America/Los_Angeles")
SMALL = DataConfig(initial_users=200, new_users_per_day=12.0, history_days=20)
MAKE_GOLDEN = Path(__file__).resolve().parents[1] / "data" / "make_golden.py"


def _make_golden() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden_for_tests", MAKE_GOLDEN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _day_bytes(gen: Generator, day: date) -> bytes:
    return b"\n".join(dumps_line(r.line) + repr((r.start, r.available_at)).encode()
                      for r in gen.sessions_for_day(day))  # fmt: skip


def _pacific_day(t: float) -> date:
    return datetime.fromtimestamp(t, PACIFIC).date()


# --- formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "java"),
    [
        (1591474962.721, "1.591474962721E9"),
        (1550040022.647, "1.550040022647E9"),
        (1591474962.0, "1.591474962E9"),
        (1.6e9, "1.6E9"),
        (1e7, "1.0E7"),
        (9999999.5, "9999999.5"),
        (123.5, "123.5"),
        (0.001, "0.001"),
        (0.0005, "5.0E-4"),
        (0.0, "0.0"),
        (-1.5e9, "-1.5E9"),
        (1e20, "1.0E20"),
    ],
)
def test_java_double_matches_java_double_to_string(value: float, java: str) -> None:
    assert java_double(value) == java
    assert float(java) == value


def test_java_float_is_rendered_java_style_and_still_a_float() -> None:
    line = {"time": JavaFloat(1591474962.721), "firstRun": 1591474962.721}
    assert dumps_line(line) == b'{"time":1.591474962721E9,"firstRun":1591474962.721}'
    assert JavaFloat(2.5) + 1 == 3.5


# --- contract ----------------------------------------------------------------------------


def test_config_rejects_bad_values_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="history_days"):
        DataConfig(history_days=0)
    with pytest.raises(ValueError, match="late_fraction"):
        DataConfig(late_fraction=1.5)
    with pytest.raises(ValueError, match="sessions_per_active_day"):
        DataConfig(sessions_per_active_day=0.5)


def test_days_outside_history_are_empty_and_bad_day_type_is_refused() -> None:
    gen = Generator(SMALL, APP, END)
    assert len(gen.days) == SMALL.history_days
    assert gen.days[-1] == _pacific_day(END)
    assert gen.sessions_for_day(gen.days[0] - timedelta(days=1)) == []
    assert gen.sessions_for_day(gen.days[-1] + timedelta(days=1)) == []
    assert gen.sessions_for_day(gen.days[0])
    with pytest.raises(TypeError, match=r"datetime\.date"):
        gen.sessions_for_day(datetime(2026, 6, 1))


def test_sessions_start_on_their_pacific_day_and_end_by_history_end() -> None:
    gen = Generator(SMALL, APP, END)
    for day in gen.days[-3:]:
        records = gen.sessions_for_day(day)
        assert [r.start for r in records] == sorted(r.start for r in records)
        for rec in records:
            assert _pacific_day(rec.start) == day
            assert float(rec.line["time"]) == pytest.approx(rec.start, abs=1e-6)
            assert rec.start + rec.line["duration"] <= END
    # The last day is cut at history_end: nothing started after it.
    assert max(r.start for r in gen.sessions_for_day(gen.days[-1])) < END


def test_availability_follows_the_two_hour_grid_and_late_sessions_reach_eight_days() -> None:
    gen = Generator(SMALL, APP, END)
    records = [r for d in gen.days for r in gen.sessions_for_day(d)]
    late = 0
    for rec in records:
        assert rec.available_at > rec.start
        assert rec.available_at % 7200 == 0
        ready = rec.start + rec.line["duration"] + 1800
        if rec.available_at - rec.start > 86400 - 7200:
            late += 1
            assert rec.available_at <= rec.start + 8 * 86400
        else:
            assert ready < rec.available_at <= ready + 7200
    assert 0.015 < late / len(records) < 0.05


def test_user_attributes_are_a_pure_function_of_the_user() -> None:
    gen = Generator(SMALL, APP, END)
    seen: dict[str, tuple[Any, ...]] = {}
    for day in gen.days[-4:]:
        for rec in gen.sessions_for_day(day):
            line = rec.line
            if not line["isSession"]:
                continue  # offline records carry no device fields
            key = (line["deviceId"], line["userBucket"], float(line["firstRun"]),
                   line.get("city"), line["locale"], line.get("systemName"))  # fmt: skip
            assert seen.setdefault(line["userId"], key) == key


def test_generation_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    gen = Generator(SMALL, APP, END)
    assert gc.isenabled()
    gen.sessions_for_day(gen.days[-1])
    assert gc.isenabled()
    gc.disable()
    try:
        gen.sessions_for_day(gen.days[-2])
        with pause_gc(), pause_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pause_gc():
        assert not gc.isenabled()
        with pause_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_or_app_other_data() -> None:
    a = Generator(SMALL, APP, END)
    b = Generator(SMALL, APP, END + 3600.0)  # same history end day
    day = a.days[-2]
    assert _day_bytes(a, day) == _day_bytes(b, day)
    other_seed = Generator(DataConfig(**{**SMALL.__dict__, "seed": 1}), APP, END)
    assert _day_bytes(other_seed, day) != _day_bytes(a, day)
    other_app = Generator(SMALL, APP + 1, END)
    assert _day_bytes(other_app, day) != _day_bytes(a, day)


def test_days_are_independent_of_the_order_they_are_asked_in() -> None:
    first = Generator(SMALL, APP, END, cache_days=1)
    day_a, day_b = first.days[-5], first.days[-2]
    a_first = _day_bytes(first, day_a)
    second = Generator(SMALL, APP, END, cache_days=1)
    _day_bytes(second, day_b)
    for d in second.days[:3]:
        second.sessions_for_day(d)
    assert _day_bytes(second, day_a) == a_first
    # Evicted from the cache and made again: identical.
    assert _day_bytes(first, day_a) == a_first
    first.sessions_for_day(day_b)
    assert _day_bytes(first, day_a) == a_first


def test_golden_files_are_up_to_date() -> None:
    """Regenerating the golden export in this process gives the committed bytes."""
    assert _make_golden().main(["--check"]) == 0


# --- quirks -------------------------------------------------------------------------------


def test_every_quirk_appears_with_default_settings() -> None:
    golden = _make_golden()
    gen = Generator(DataConfig(), APP, END)
    records: list[SessionRecord] = [r for d in gen.days[-3:-1] for r in gen.sessions_for_day(d)]
    inventory = golden.quirk_inventory(records)
    missing = [name for name, count in inventory.items() if count == 0]
    assert not missing, f"quirks absent from two default days: {missing}"
    n = len(records)
    assert 0.004 < inventory["string_time"] / n < 0.025
    assert 0.015 < inventory["offline_record"] / n < 0.05
    assert 0.3 < inventory["java_style_time"] / n < 0.7


def test_ids_are_signed_int64_spread_over_the_range_with_exact_limits_daily() -> None:
    gen = Generator(SMALL, APP, END)
    for day in gen.days[-3:]:
        records = gen.sessions_for_day(day)
        ids: list[int] = []
        for rec in records:
            assert isinstance(rec.line["sessionId"], str)
            ids.append(int(rec.line["sessionId"]))
            for state in rec.line["states"]:
                ids.append(state["stateId"])
                ids.extend(ev["eventId"] for ev in state.get("events", ()))
        assert all(INT64_MIN <= i <= INT64_MAX for i in ids)
        assert INT64_MIN in ids and INT64_MAX in ids
        assert min(ids) < -(2**62) and max(ids) > 2**62
        session_ids = [r.line["sessionId"] for r in records]
        assert len(set(session_ids)) == len(session_ids)


def test_platform_location_and_optional_fields_are_consistent() -> None:
    gen = Generator(SMALL, APP, END)
    system = {"ios": {"iOS"}, "android": {"Android OS"}, "js": {"Windows", "Mac OS", "Linux"}}
    clients = set()
    for rec in gen.sessions_for_day(gen.days[-2]):
        line = rec.line
        if not line["isSession"]:
            assert line["duration"] == 0.0
            continue
        clients.add(line["client"])
        assert line["systemName"] in system[line["client"]]
        assert ("browserName" in line) == (line["client"] == "js")
        assert line.get("isDeveloper", True) is True  # omitted unless true
        tz = ZoneInfo(line["timezone"])
        offset = datetime.fromtimestamp(rec.start, tz).utcoffset()
        assert offset is not None and line["timezoneOffsetSeconds"] == offset.total_seconds()
        assert line["locale"].endswith("_" + line["country"])
        if "lat" in line:
            assert isinstance(line["lat"], str) and -90 <= float(line["lat"]) <= 90
            assert isinstance(line["lon"], str) and -180 <= float(line["lon"]) <= 180
        for key in ("priorSessions", "priorEvents", "priorStates"):
            assert line.get(key, 1) > 0  # zero counts are omitted
    assert clients == {"ios", "android", "js"}


def test_app_without_states_gets_one_nameless_state_per_session() -> None:
    gen = Generator(DataConfig(**{**SMALL.__dict__, "uses_states": False}), APP, END)
    records = gen.sessions_for_day(gen.days[-2])
    assert records
    for rec in records:
        assert len(rec.line["states"]) == 1
        assert "name" not in rec.line["states"][0]


# --- realism -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history() -> dict[str, Any]:
    """Statistics over 45 days of a default-sized app (about 60k records)."""
    gen = Generator(DataConfig(history_days=45), APP, END, cache_days=1)
    per_day: dict[date, int] = {}
    active: dict[date, set[str]] = defaultdict(set)
    joined: dict[str, date] = {}
    conversions: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    funnel = dict.fromkeys(("Open Store", "View Item", "Add To Cart", "Purchase"), 0)
    sent = opened = 0
    versions: dict[date, set[str]] = defaultdict(set)
    local_hours = [0] * 24
    durations: list[float] = []
    for day in gen.days:
        records = gen.sessions_for_day(day)
        per_day[day] = sum(1 for r in records if r.line["isSession"])
        for rec in records:
            line = rec.line
            names = [e["name"] for s in line["states"] for e in s.get("events", ())]
            sent += sum(1 for n in names if n.startswith(".m") and " " not in n)
            opened += sum(1 for n in names if n.startswith(".m") and n.endswith(" Open"))
            if not line["isSession"]:
                continue
            active[day].add(line["userId"])
            local_hours[int((rec.start + line["timezoneOffsetSeconds"]) % 86400 // 3600)] += 1
            durations.append(line["duration"])
            joined[line["userId"]] = _pacific_day(float(line["firstRun"]))
            versions[day].add(line["appVersion"])
            for name in funnel:
                funnel[name] += name in names
            for exp in line.get("experiments", ()):
                c = conversions[(exp["id"], exp["variantId"])]
                c[0] += 1
                c[1] += "Purchase" in names
    return {
        "gen": gen,
        "per_day": per_day,
        "active": active,
        "joined": joined,
        "conversions": conversions,
        "funnel": funnel,
        "sent": sent,
        "opened": opened,
        "versions": versions,
        "local_hours": local_hours,
        "durations": durations,
    }


def _retention(h: dict[str, Any], n: int) -> float:
    days = h["gen"].days
    num = den = 0
    for d in days:
        if d + timedelta(days=n) >= days[-1]:  # the last day is partial
            break
        cohort = [u for u, j in h["joined"].items() if j == d]
        den += len(cohort)
        num += sum(1 for u in cohort if u in h["active"][d + timedelta(days=n)])
    return num / den


@pytest.mark.slow
def test_realism_weekly_cycle_and_growth(history: dict[str, Any]) -> None:
    per_day = {d: n for d, n in history["per_day"].items() if d != history["gen"].days[-1]}
    weekend = statistics.mean(n for d, n in per_day.items() if d.weekday() >= 5)
    weekday = statistics.mean(n for d, n in per_day.items() if d.weekday() < 5)
    assert weekend > 1.1 * weekday
    counts = [per_day[d] for d in sorted(per_day)]
    assert statistics.mean(counts[-14:]) > 1.3 * statistics.mean(counts[:14])


@pytest.mark.slow
def test_realism_retention_decays(history: dict[str, Any]) -> None:
    d1, d7, d30 = (_retention(history, n) for n in (1, 7, 30))
    assert 0.33 < d1 < 0.47
    assert 0.13 < d7 < 0.22
    assert 0.05 < d30 < 0.13
    assert d1 > d7 > d30


@pytest.mark.slow
def test_realism_funnel_messages_and_versions(history: dict[str, Any]) -> None:
    f = history["funnel"]
    assert f["Open Store"] > f["View Item"] > f["Add To Cart"] > f["Purchase"] > 0
    assert f["Purchase"] < 0.25 * f["Open Store"]
    assert 0.1 < history["opened"] / history["sent"] < 0.4
    days = history["gen"].days
    newest = max(history["versions"][days[-2]], key=lambda v: tuple(map(int, v.split("."))))
    oldest = max(history["versions"][days[0]], key=lambda v: tuple(map(int, v.split("."))))
    assert tuple(map(int, newest.split("."))) > tuple(map(int, oldest.split(".")))


@pytest.mark.slow
def test_realism_the_effective_variant_converts_more(history: dict[str, Any]) -> None:
    experiments = {e["name"]: e for e in history["gen"].experiments()}

    def rate(exp: dict[str, Any], variant: int) -> float:
        sessions, purchases = history["conversions"][(exp["id"], exp["variants"][variant]["id"])]
        return float(purchases / sessions)

    store = experiments["Store Redesign"]
    assert store["variants"][1]["purchase_lift"] > 1
    lift = rate(store, 1) / rate(store, 0)
    assert lift > 1.12, lift
    tutorial = experiments["Onboarding Tutorial"]
    assert math.isclose(rate(tutorial, 0), rate(tutorial, 1), rel_tol=0.15)


@pytest.mark.slow
def test_realism_daily_cycle_and_session_lengths(history: dict[str, Any]) -> None:
    hours = history["local_hours"]
    evening = sum(hours[19:22]) / 3
    night = sum(hours[2:5]) / 3
    assert evening > 4 * night
    durations = history["durations"]
    assert 60 < statistics.median(durations) < 600
    long = sum(1 for d in durations if d > 8 * 3600)
    assert 0 < long < 0.01 * len(durations)
