"""Fault injection (issue 8 item 1) over real HTTP: each kind, quota accounting, determinism."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import requests

from leanplum_notebook.simulator import FaultConfig

pytestmark = pytest.mark.reliability


def _args(sim: Any, action: str = "exportData", **extra: str) -> dict[str, str]:
    args = {
        "appId": sim.app_id,
        "clientKey": sim.export_key,
        "apiVersion": "1.0.6",
        "action": action,
        **extra,
    }
    if action == "exportData":
        args.setdefault("startDate", "20260614")
    return args


def _accepted(sim: Any) -> int:
    return sum(sim.stats.exports_accepted.values())


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("http_500_html", 500, "text/html"),
        ("http_502_empty", 502, "text/html"),
        ("http_429", 429, "application/json"),
        ("success_false_200", 200, "application/json"),
    ],
)
def test_api_faults_before_handling_spend_no_quota(
    make_simulator: Any, kind: str, status: int, content_type: str
) -> None:
    sim = make_simulator(faults=FaultConfig(first={kind: 2}))
    for _ in range(2):
        response = requests.get(sim.api_url, params=_args(sim), timeout=10)
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith(content_type)
        assert int(response.headers["Content-Length"]) == len(response.content)
        if kind == "http_500_html":
            assert response.text.lstrip().startswith("<!DOCTYPE html>")
        if kind == "http_502_empty":
            assert response.content == b""
        if kind == "http_429":
            assert response.headers["Retry-After"] == "1"
            assert response.json()["response"][0]["success"] is False
        if kind == "success_false_200":
            item = response.json()["response"][0]
            assert item["success"] is False and item["error"]["message"]
    assert _accepted(sim) == 0
    assert sim.stats.faults[kind] == 2
    response = requests.get(sim.api_url, params=_args(sim), timeout=10)
    assert response.status_code == 200 and response.json()["response"][0]["success"] is True
    assert _accepted(sim) == 1


def test_drop_connection_after_export_accepted_spends_quota(make_simulator: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"drop_connection": 1}))
    # half the JSON answer arrives, then the socket closes
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(sim.api_url, params=_args(sim), timeout=10)
    # the export was accepted although the client never saw its job id
    assert _accepted(sim) == 1
    assert sim.stats.faults["drop_connection"] == 1
    assert requests.get(sim.api_url, params=_args(sim), timeout=10).status_code == 200
    assert _accepted(sim) == 2


def test_slow_answers(make_simulator: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"slow": 1}, slow_seconds=0.4))
    began = time.monotonic()
    response = requests.get(sim.api_url, params=_args(sim), timeout=10)
    assert time.monotonic() - began >= 0.4
    assert response.status_code == 200
    assert sim.stats.faults["slow"] == 1


def test_only_actions_limits_api_faults(make_simulator: Any, api: Any) -> None:
    config = FaultConfig(first={"http_500_html": 1}, only_actions=frozenset({"getExportResults"}))
    sim = make_simulator(faults=config)
    status, item = api.call(sim, "exportData", startDate="20260614")  # not faulted
    assert status == 200
    args = _args(sim, "getExportResults", jobId=item["jobId"])
    assert requests.get(sim.api_url, params=args, timeout=10).status_code == 500
    assert api.wait_job(sim, item["jobId"])["state"] == "FINISHED"


def _finished_file(api: Any, sim: Any) -> tuple[dict[str, Any], str]:
    result = api.export(sim, startDate="20260613", endDate="20260614")
    return result, result["files"][0]


def test_drop_download_then_resume_with_range(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"drop_download": 1}))
    _, url = _finished_file(api, sim)
    got = bytearray()
    response = requests.get(url, stream=True, timeout=10)
    assert response.status_code == 200
    full_size = int(response.headers["Content-Length"])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(8192):
            got += chunk
    response.close()
    assert 0 < len(got) < full_size
    rest = requests.get(url, headers={"Range": f"bytes={len(got)}-"}, timeout=10)
    assert rest.status_code == 206
    whole = api.download(url)
    assert bytes(got) + rest.content == whole and len(whole) == full_size


def test_truncate_file_is_short_but_looks_clean(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"truncate_file": 1}))
    result, url = _finished_file(api, sim)
    short = requests.get(url, timeout=10)
    assert short.status_code == 200
    assert int(short.headers["Content-Length"]) == len(short.content)
    whole = api.download(url)
    assert len(short.content) < len(whole) and whole.startswith(short.content)
    assert sum(len(api.download(u)) for u in result["files"]) == result["numBytes"]


def test_download_5xx_then_success(make_simulator: Any, api: Any) -> None:
    config = FaultConfig(first={"http_502_empty": 1}, only_actions=frozenset())
    sim = make_simulator(faults=config)
    _, url = _finished_file(api, sim)
    assert requests.get(url, timeout=10).status_code == 502
    api.download(url)


def test_job_fail(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"job_fail": 1}))
    failed = api.export(sim, startDate="20260614")
    assert failed["state"] == "FAILED" and "fault" in failed["error"]["message"]
    assert api.export(sim, startDate="20260614")["state"] == "FINISHED"
    assert _accepted(sim) == 2  # the failed job spent its export


def test_job_stuck(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"job_stuck": 1}))
    _, item = api.call(sim, "exportData", startDate="20260614")
    time.sleep(sim.pending_seconds + sim.running_seconds + 0.5)
    for _ in range(3):
        _, result = api.call(sim, "getExportResults", jobId=item["jobId"])
        assert result["state"] == "RUNNING"
        time.sleep(0.1)


def test_expire_early(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"expire_early": 1}))
    result = api.export(sim, startDate="20260614")
    assert result["state"] == "FINISHED" and result["files"]
    assert requests.get(result["files"][0], timeout=10).status_code == 404


def test_corrupt_line(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"corrupt_line": 1}))
    result = api.export(sim, startDate="20260613", endDate="20260614")
    bad = 0
    lines = 0
    for url in result["files"]:
        for line in api.download(url).splitlines():
            lines += 1
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
    assert bad == 1 and lines == result["numSessions"]
    assert sum(len(api.download(u)) for u in result["files"]) == result["numBytes"]


def test_rates_are_seeded_and_counted(make_simulator: Any) -> None:
    config = FaultConfig(seed=5, rates={"http_500_html": 0.3, "http_429": 0.2})
    sequences = []
    for _ in range(2):
        sim = make_simulator(faults=config, pending_seconds=3600)
        args = _args(sim, "getExportResults", jobId="export_1_1")
        statuses = [
            requests.get(sim.api_url, params=args, timeout=10).status_code for _ in range(60)
        ]
        sequences.append(statuses)
        assert sim.stats.faults["http_500_html"] == statuses.count(500)
        assert sim.stats.faults["http_429"] == statuses.count(429)
        assert set(statuses) == {404, 500, 429}
    assert sequences[0] == sequences[1]
    assert 8 <= sequences[0].count(500) <= 30


def test_no_faults_by_default(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260614")
    assert result["state"] == "FINISHED"
    assert sum(simulator.stats.faults.values()) == 0


def test_fault_config_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'http_999'"):
        FaultConfig(rates={"http_999": 0.1})
    with pytest.raises(ValueError, match=r"must be in 0\.\.1"):
        FaultConfig(rates={"slow": 1.5})
    with pytest.raises(ValueError, match="first"):
        FaultConfig(first={"slow": -1})
