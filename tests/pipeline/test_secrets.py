"""The export key (and the S3 secret) never show: logs at DEBUG, exceptions, reprs, cache, CLI."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook import cli, errors
from leanplum_notebook.api.client import Client
from leanplum_notebook.dates import pacific_day
from leanplum_notebook.export import fetch, plan
from leanplum_notebook.settings import Settings
from leanplum_notebook.simulator import AppConfig, FaultConfig, SimClock

KEY = "exp_KnownSecretKey_0123456789abcdef"
S3_SECRET = "S3SecretAccessKey_zyxwvu987654"
APP = "app_PipelineSecretsTestApp_000000000000000000000"


def _app() -> AppConfig:
    from leanplum_notebook.simulator import DataConfig

    data = DataConfig(seed=3, initial_users=200, new_users_per_day=5.0, history_days=70)
    return AppConfig(app_id=APP, export_key=KEY, app_number=4727756026281984, data=data)


def test_key_found_nowhere(
    make_simulator: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = FaultConfig(
        first={"http_500_html": 1, "drop_download": 1},
    )
    sim = make_simulator(apps=[_app()], faults=faults)
    cache_dir = tmp_path / "cache"

    def kw(**over: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "app_id": APP,
            "export_key": KEY,
            "api_url": sim.api_url,
            "cache_dir": cache_dir,
            "clock": sim.clock.now,
            "progress": True,  # bars go to stderr: checked below
        }
        out.update(over)
        return out

    texts: list[str] = []
    ok = fetch("20260601", "20260602", **kw())
    texts += [repr(ok), str(ok), repr(ok.parts), repr(ok.plan), str(ok.plan)]
    texts += [repr(plan("20260601", app_id=APP, cache_dir=cache_dir, clock=sim.clock.now))]
    settings = Settings(APP, KEY, sim.api_url, cache_dir)
    texts += [repr(settings), str(settings), repr(Client(settings))]

    failing: list[Any] = [
        (make_simulator(apps=[_app()], faults=FaultConfig(first={"drop_connection": 1})), {}),
        (make_simulator(apps=[_app()], faults=FaultConfig(first={"job_fail": 1})), {}),
        (make_simulator(apps=[_app()]), {"export_key": KEY + "x"}),  # wrong key: 403
        (
            make_simulator(apps=[_app()], s3_endpoint_url="http://127.0.0.1:9"),
            {"s3_bucket": "nope", "s3_access_id": "AKIDTEST", "s3_access_key": S3_SECRET},
        ),
    ]
    raised = 0
    for other, extra in failing:
        try:
            fetch(
                "20260603",
                **kw(api_url=other.api_url, clock=other.clock.now, timeout=30, **extra),
            )
        except errors.LeanplumError as exc:
            raised += 1
            texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    assert raised == len(failing)

    # the CLI, at -vv, against a simulator on real time (the CLI uses the real clock)
    live = make_simulator(apps=[_app()], clock=SimClock())
    monkeypatch.setenv("LEANPLUM_EXPORT_KEY", KEY)
    monkeypatch.setenv("LEANPLUM_APP_ID", APP)
    monkeypatch.setenv("LEANPLUM_API_URL", live.api_url)
    monkeypatch.setenv("LEANPLUM_CACHE_DIR", str(cache_dir))
    # the Pacific day: the UTC date is already tomorrow in the evening, Pacific time
    day = pacific_day(live.clock.now()).strftime("%Y%m%d")
    assert cli.main(["-vv", "export", day, "--no-progress"]) == 0
    assert cli.main(["quota"]) == 0
    assert cli.main(["cache", "list"]) == 0
    monkeypatch.setenv("LEANPLUM_EXPORT_KEY", KEY + "x")
    assert cli.main(["-vv", "export", day, "--refresh", "--no-progress"]) in (0, 1)

    out = capsys.readouterr()
    assert "exports spent" in out.out and "of 24 exports used" in out.out
    texts += [out.out, out.err, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    assert any("exportData" in t for t in texts)  # the logs did capture the calls
    for text in texts:
        assert KEY not in text
        assert S3_SECRET not in text
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"entry.json", "days.json", "quota.json"} <= names and len(files) > 5
    for p in files:
        data = p.read_bytes()
        assert KEY.encode() not in data, p
        assert S3_SECRET.encode() not in data, p
