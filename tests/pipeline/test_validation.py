"""Bad arguments to fetch() and plan() are refused with ValidationError before any request.

The session refuses every request, so a value that slipped through validation would show
as an AssertionError from it (or as another exception type), not as a ValidationError.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.export import fetch, plan
from leanplum_notebook.models import ExportRequest
from leanplum_notebook.store.files import MAX_NAME, safe_name

NOW = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc).timestamp()


class _NoNetwork(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a request was made: {args}")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("APP_ID", "EXPORT_KEY", "API_URL", "CACHE_DIR"):
        monkeypatch.delenv(f"LEANPLUM_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file


def _kw(tmp_path: Path, **over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "app_id": "app_test",
        "export_key": "exp_test",
        "api_url": "http://127.0.0.1:9/api",
        "cache_dir": tmp_path / "cache",
        "clock": lambda: NOW,
        "progress": False,
        "session": _NoNetwork(),
        "timeout": 30.0,
    }
    kw.update(over)
    return kw


BAD = [
    ("start_time", math.inf),
    ("start_time", -math.inf),
    ("start_time", math.nan),
    ("end_time", math.inf),
    ("start_time", 10**30),
    ("end_time", 10**400),
    ("end_time", 4_102_444_801),
    ("timeout", math.nan),
    ("timeout", math.inf),
    ("timeout", "5"),
    ("timeout", None),
    ("timeout", 10**400),
    ("callback_url", 123),
    ("callback_url", "http://"),
    ("callback_url", "https:///path"),
    ("callback_url", "HTTP://host"),
    ("callback_url", "http://host name"),
    ("callback_url", "http://host:port"),
    ("cache_dir", "nul\x00byte"),
    ("cache_dir", 5),
    ("cache_dir", b"bytes"),
    ("app_id", 5),
    ("app_id", "a" * 300),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_fetch_refuses_before_any_request(tmp_path: Path, name: str, value: Any) -> None:
    with pytest.raises(errors.ValidationError) as info:
        fetch("20260601", **_kw(tmp_path, **{name: value}))
    assert info.value.argument == name
    assert str(info.value).startswith(f"{name}: ")


@pytest.mark.parametrize("name", ["start_time", "end_time"])
@pytest.mark.parametrize("value", [math.inf, math.nan, 10**30, -1])
def test_plan_refuses_bad_times(name: str, value: Any) -> None:
    with pytest.raises(errors.ValidationError) as info:
        plan("20260601", app_id="app_test", clock=lambda: NOW, **{name: value})
    assert info.value.argument == name


def test_cache_dir_that_cannot_be_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    for target in (afile, afile / "below", tmp_path / ("x" * 300), tmp_path / "y" / ("x" * 300)):
        with pytest.raises(errors.ValidationError) as info:
            fetch("20260601", **_kw(tmp_path, cache_dir=target))
        assert info.value.argument == "cache_dir"
        with pytest.raises(errors.ValidationError) as info:
            plan("20260601", app_id="app_test", clock=lambda: NOW, cache_dir=target)
        assert info.value.argument == "cache_dir"
    assert afile.read_text() == "not a folder"


def test_plan_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet"
    got = plan("20260601", app_id="app_test", clock=lambda: NOW, cache_dir=target)
    assert got.exports_needed == 1 and not (tmp_path / "not").exists()


def test_plan_refuses_bad_app_ids(tmp_path: Path) -> None:
    for value in (5, "a" * 300, ".hidden"):
        with pytest.raises(errors.ValidationError) as info:
            plan("20260601", app_id=value, clock=lambda: NOW, cache_dir=tmp_path)  # type: ignore[arg-type]
        assert info.value.argument == "app_id"


def test_valid_edge_values_pass_validation(tmp_path: Path) -> None:
    # the largest accepted time and a float timeout are fine: the first request is made
    kw = _kw(tmp_path, end_time=4_102_444_800, timeout=0.5, callback_url="https://h.example/x")
    with pytest.raises(AssertionError, match="a request was made"):
        fetch("20260601", **kw)


def test_safe_name_length_and_type() -> None:
    assert safe_name("a" * MAX_NAME) == "a" * MAX_NAME
    with pytest.raises(errors.ValidationError, match="characters"):
        safe_name("a" * (MAX_NAME + 1), what="app_id")
    with pytest.raises(errors.ValidationError, match="expected text"):
        safe_name(5, what="app_id")  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://h", "https://h.example:8443/cb?x=1", "http://[::1]:80/"])
def test_export_request_accepts_http_urls_with_a_host(url: str) -> None:
    from datetime import date

    req = ExportRequest(date(2026, 6, 1), date(2026, 6, 1), callback_url=url)
    assert req.params()["callbackUrl"] == url
