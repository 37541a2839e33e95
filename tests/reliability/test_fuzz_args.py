"""Bad arguments to fetch() and plan(), fuzzed (issue 8 item 5).

Every argument gets values drawn by hypothesis from a space of invalid ones (the other
arguments stay valid). The call must raise ``ValidationError`` naming the argument (or
``ConfigError`` saying what is missing), never any other exception type, and no request may
reach the simulator (``sim.stats`` counts every call and download). ``test_baseline_calls``
shows the same harness does see a call when the arguments are valid.

Values found to escape as another exception type (or to reach the server) are listed in
``KNOWN_BUGS`` as strict xfails, and left out of the strategies until fixed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanplum_notebook import errors
from leanplum_notebook.export import fetch, plan

pytestmark = pytest.mark.reliability

TODAY = date(2026, 6, 15)  # Pacific day of the conftest's SIM_NOW
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from leanplum_notebook.simulator import DataConfig, SimClock, Simulator

    now = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)  # as tests/conftest.py's SIM_NOW
    data = DataConfig(seed=0, initial_users=300, new_users_per_day=10.0, history_days=70)
    s: Any
    with Simulator(seed=0, clock=SimClock(now, frozen=True), data=data) as s:
        s.tmp = tmp_path_factory.mktemp("fuzz-args")
        yield s


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # credentials and cache only from the arguments: no environment, no .env file
    for name in ("APP_ID", "EXPORT_KEY", "API_URL", "CACHE_DIR"):
        monkeypatch.delenv(f"LEANPLUM_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


_SERIAL = iter(range(10**9))


def _kw(sim: Any) -> dict[str, Any]:
    # a fresh cache folder per call: nothing is ever cached, so any valid call would export
    return {
        "app_id": sim.app_id,
        "export_key": sim.export_key,
        "api_url": sim.api_url,
        "cache_dir": sim.tmp / f"cache-{next(_SERIAL)}",
        "clock": sim.clock.now,
        "progress": False,
        "timeout": 30.0,
    }


def _calls(sim: Any) -> int:
    return int(sum(sim.stats.calls.values())) + int(sim.stats.downloads)


def _valid_day_text(text: str) -> bool:
    s = text.strip()
    if not re.fullmatch(r"[0-9]{8}", s):
        return False
    try:
        datetime.strptime(s, "%Y%m%d")
    except ValueError:
        return False
    return True


def _expect_refused(
    sim: Any, accept: set[str], call: Any, *args: Any, **kwargs: Any
) -> errors.LeanplumError:
    before = _calls(sim)
    try:
        call(*args, **kwargs)
    except (errors.ValidationError, errors.ConfigError) as exc:
        if isinstance(exc, errors.ValidationError):
            assert exc.argument in accept, (exc.argument, accept, str(exc))
        else:
            assert any(a.replace("_", " ") in str(exc) for a in accept), str(exc)
        assert _calls(sim) == before, "a request was made"
        return exc
    except Exception as exc:  # pragma: no cover - the failure being looked for
        raise AssertionError(f"{type(exc).__name__} instead of ValidationError: {exc}") from exc
    raise AssertionError(f"accepted: {args} {kwargs}")


# ---------------------------------------------------------------- strategies of bad values

_not_day_text = st.text(max_size=12).filter(lambda s: not _valid_day_text(s))
_outside_window = st.one_of(
    st.dates(min_value=TODAY + timedelta(days=1), max_value=date(2100, 1, 1)),
    st.dates(min_value=date(1970, 1, 1), max_value=TODAY - timedelta(days=61)),
)
_not_a_day = st.one_of(
    _not_day_text,
    st.integers(),
    st.floats(),
    st.binary(max_size=10),
    st.none(),
    st.datetimes(),
    st.lists(st.integers(), max_size=2),
)
BAD_DAY = st.one_of(_not_a_day, _outside_window, _outside_window.map(lambda d: f"{d:%Y%m%d}"))
_not_seconds = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=10**11),  # milliseconds or garbage, not Unix seconds
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda x: not math.isfinite(x) or x < 0 or x > 1e11
    ),
    st.text(max_size=10),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@FUZZ
@given(value=BAD_DAY)
def test_start(sim: Any, value: Any) -> None:
    kw = _kw(sim)
    # a start after the end, or in the future, is reported on "end" (end defaults to start)
    _expect_refused(sim, {"start", "end"}, fetch, value, "20260602", **kw)
    pkw = {k: kw[k] for k in ("app_id", "cache_dir", "clock")}
    _expect_refused(sim, {"start", "end"}, plan, value, **pkw)


@FUZZ
@given(
    value=st.one_of(
        _not_a_day.filter(lambda v: v is not None),  # None: end = start
        _outside_window,
        st.dates(max_value=date(2026, 5, 31)),
    )
)
def test_end(sim: Any, value: Any) -> None:
    # end before start (20260601), in the future, or not a day at all
    kw = _kw(sim)
    _expect_refused(sim, {"end"}, fetch, "20260601", value, **kw)
    _expect_refused(sim, {"end"}, plan, "20260601", value, app_id=sim.app_id, clock=kw["clock"])


@FUZZ
@given(
    value=st.one_of(
        st.text(max_size=8).filter(lambda s: s not in ("json", "csv")),
        st.none(),
        st.integers(),
        st.lists(st.text(max_size=4), max_size=2),
    )
)
def test_format(sim: Any, value: Any) -> None:
    _expect_refused(sim, {"format"}, fetch, "20260601", format=value, **_kw(sim))
    _expect_refused(sim, {"format"}, plan, "20260601", format=value, app_id=sim.app_id)


@FUZZ
@given(
    name=st.sampled_from(["start_time", "end_time"]),
    value=st.one_of(_not_seconds, st.just("too old")),
)
def test_times(sim: Any, name: str, value: Any) -> None:
    kw = _kw(sim)
    if value == "too old":  # the 60-day rule applies to startTime too (spec 7.5)
        if name == "end_time":
            return
        value = int(sim.clock.now()) - 61 * 86400
    _expect_refused(sim, {name}, fetch, "20260601", **{name: value}, **kw)
    _expect_refused(
        sim, {name}, plan, "20260601", **{name: value}, app_id=sim.app_id, clock=kw["clock"]
    )


@FUZZ
@given(end_time=st.integers(min_value=0, max_value=1_781_000_000))
def test_time_window_not_after_its_start(sim: Any, end_time: int) -> None:
    start_time = 1_781_000_000  # 2026-06-09: in the window
    kw = _kw(sim)
    _expect_refused(
        sim, {"start_time"}, fetch, "20260601", start_time=start_time, end_time=end_time, **kw
    )


@FUZZ
@given(
    value=st.one_of(
        st.floats(max_value=0, allow_nan=False, allow_infinity=True),
        st.integers(max_value=0),
        st.just(math.nan),
        st.just(math.inf),
        st.text(max_size=6),
        st.booleans(),
    )
)
def test_timeout(sim: Any, value: Any) -> None:
    _expect_refused(sim, {"timeout"}, fetch, "20260601", **{**_kw(sim), "timeout": value})


_opt_text = st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=8))


def _s3_invalid(args: dict[str, Any]) -> bool:
    if args["s3_bucket"]:
        return not args["s3_access_id"] or not args["s3_access_key"]
    return bool(args["s3_access_id"] or args["s3_access_key"] or args["s3_prefix"])


@FUZZ
@given(
    args=st.fixed_dictionaries(
        {
            "s3_bucket": _opt_text,
            "s3_access_id": _opt_text,
            "s3_access_key": _opt_text,
            "s3_prefix": _opt_text,
        }
    ).filter(_s3_invalid)
)
def test_s3_options(sim: Any, args: dict[str, Any]) -> None:
    accept = {"s3_bucket", "s3_access_id", "s3_access_key", "s3_prefix"}
    exc = _expect_refused(sim, accept, fetch, "20260601", **args, **_kw(sim))
    for secret in (args["s3_access_key"], args["s3_access_id"]):
        if secret and len(secret) > 3:
            assert secret not in str(exc)


@FUZZ
@given(
    value=st.one_of(
        st.text(max_size=20).filter(lambda s: not s.startswith(("http://", "https://"))),
        st.sampled_from(["http://", "https://", "http:///path", "https://:80/x", "http://?q"]),
        st.integers(),
        st.binary(max_size=12),
    )
)
def test_callback_url(sim: Any, value: Any) -> None:
    _expect_refused(sim, {"callback_url"}, fetch, "20260601", callback_url=value, **_kw(sim))


_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_component = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=_SURROGATES),
    min_size=1,
    max_size=30,
)


@FUZZ
@given(
    value=st.one_of(
        st.integers(),
        st.lists(st.text(max_size=3), max_size=2),
        st.tuples(st.text(max_size=5), st.text(max_size=5)).map(lambda t: f"{t[0]}\x00{t[1]}"),
        st.text(st.sampled_from("abcxyz"), min_size=256, max_size=300),  # > NAME_MAX
    )
)
def test_cache_dir_that_is_no_path(sim: Any, value: Any) -> None:
    if isinstance(value, str) and "\x00" not in value:
        value = sim.tmp / value
    _expect_refused(sim, {"cache_dir"}, fetch, "20260601", **{**_kw(sim), "cache_dir": value})
    if not isinstance(value, Path):  # plan creates nothing, so a long name is fine there
        _expect_refused(sim, {"cache_dir"}, plan, "20260601", app_id=sim.app_id, cache_dir=value)


@FUZZ
@given(sub=st.one_of(st.none(), _component))
def test_cache_dir_that_cannot_be_a_folder(sim: Any, sub: str | None) -> None:
    afile = sim.tmp / "a-file"
    afile.write_text("not a folder")
    target = afile if sub is None else afile / sub
    kw = {**_kw(sim), "cache_dir": target}
    _expect_refused(sim, {"cache_dir"}, fetch, "20260601", **kw)


@FUZZ
@given(
    value=st.one_of(
        st.sampled_from(["", ".", ".."]),
        st.text(max_size=40).map(lambda s: "." + s),
        st.text(min_size=201, max_size=400),
        st.integers(),
        st.lists(st.text(max_size=3), max_size=2),
    )
)
def test_app_id(sim: Any, value: Any) -> None:
    kw = {**_kw(sim), "app_id": value}
    _expect_refused(sim, {"app_id", "app id"}, fetch, "20260601", **kw)
    _expect_refused(sim, {"app_id", "app id"}, plan, "20260601", app_id=value)


def test_missing_key_is_a_config_error_before_any_call(sim: Any) -> None:
    kw = {**_kw(sim), "export_key": None}
    exc = _expect_refused(sim, {"export key"}, fetch, "20260601", **kw)
    assert "LEANPLUM_EXPORT_KEY" in str(exc)


# ---------------------------------------------------------------- found by this fuzzing

_AFILE = "a-file"
#: Values that escaped as another exception type or reached the server, all fixed in the
#: pipeline (7865ace); kept as plain cases so they stay fixed.
REGRESSIONS: list[tuple[str, str, Any, str]] = [
    ("fetch", "start_time", math.inf, "was OverflowError"),
    ("fetch", "end_time", math.inf, "was OverflowError"),
    ("plan", "start_time", math.inf, "was OverflowError"),
    ("fetch", "start_time", 10**30, "was sent to the server (HTTP 400 there)"),
    ("fetch", "timeout", math.nan, "was ValueError from the file lock"),
    ("fetch", "timeout", "5", "was TypeError"),
    ("fetch", "callback_url", 123, "was AttributeError"),
    ("fetch", "callback_url", "http://", "a URL without a host was sent to the server"),
    ("fetch", "cache_dir", "nul\x00byte", "was ValueError: embedded null byte"),
    ("fetch", "cache_dir", 5, "was TypeError"),
    ("fetch", "cache_dir", "x" * 300, "was OSError: File name too long"),
    ("plan", "cache_dir", _AFILE, "was CacheError instead of ValidationError('cache_dir')"),
    ("fetch", "app_id", 5, "an int app id was sent to the server"),
    ("fetch", "app_id", "a" * 300, "was OSError: File name too long"),
]


@pytest.mark.parametrize(
    ("func", "name", "value"),
    [pytest.param(f, n, v, id=f"{f}-{n}-{i}") for i, (f, n, v, _) in enumerate(REGRESSIONS)],
)
def test_known_bad_values(sim: Any, func: str, name: str, value: Any) -> None:
    kw = _kw(sim)
    if name == "cache_dir" and isinstance(value, str):
        if value == _AFILE:
            (sim.tmp / _AFILE).write_text("not a folder")
        value = sim.tmp / _AFILE if value == _AFILE else (str(sim.tmp / value))
    if func == "plan":
        pkw = {k: kw[k] for k in ("app_id", "cache_dir", "clock")}
        _expect_refused(sim, {name}, plan, "20260601", **{**pkw, name: value})
    else:
        _expect_refused(sim, {name, "app id"}, fetch, "20260601", **{**kw, name: value})


def test_baseline_calls(make_simulator: Any, tmp_path: Path) -> None:
    """The harness sees requests: the same call with valid arguments makes them."""
    other = make_simulator()
    other.tmp = tmp_path
    kw = _kw(other)
    assert _calls(other) == 0
    assert fetch("20260601", **kw).exports_spent == 1
    assert _calls(other) > 1
