"""Contract tests of the simulator's /api endpoint over real HTTP (spec 1-3, 7.3-7.5, 7.11)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import requests

from leanplum_notebook.simulator import SimClock

JOB_ID_RE = re.compile(r"export_(\d{16})_(\d+)")
JSON_URL_RE = re.compile(
    r"http://127\.0\.0\.1:(\d+)/leanplum_export/export-(\d{16})-"
    r"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})-output-(\d+)"
)
CSV_URL_RE = re.compile(
    r"http://127\.0\.0\.1:\d+/leanplum_export/export-\d{16}-[0-9a-f-]{36}-output"
    r"(sessions|states|events|eventparameters|userattributes|experiments)-(\d+)"
)


def test_export_lifecycle_and_result_shape(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(pending_seconds=0.3, running_seconds=0.6)
    status, item = api.call(sim, "exportData", startDate="20260610", endDate="20260614")
    assert status == 200 and item == {"success": True, "jobId": item["jobId"]}
    match = JOB_ID_RE.fullmatch(item["jobId"])
    assert match and int(match.group(1)) == sim.apps[0].app_number
    assert int(match.group(2)) < 2**64
    seen = []
    result = item
    while not seen or seen[-1] not in ("FINISHED", "FAILED"):
        status, result = api.call(sim, "getExportResults", jobId=item["jobId"])
        assert status == 200 and result["success"] is True
        if not seen or seen[-1] != result["state"]:
            seen.append(result["state"])
            if result["state"] != "FINISHED":
                assert "files" not in result
    assert seen == ["PENDING", "RUNNING", "FINISHED"]
    assert set(result) == {"success", "jobId", "state", "files", "numSessions", "numBytes"}
    assert len(result["files"]) >= 2  # 64 KiB split
    uuids = set()
    total = b""
    for n, url in enumerate(result["files"]):
        m = JSON_URL_RE.fullmatch(url)
        assert m, url
        assert int(m.group(1)) == sim.port
        assert m.group(2) == match.group(1)
        assert int(m.group(4)) == n
        uuids.add(m.group(3))
        body = api.download(url)
        assert len(body) <= 64 * 1024
        total += body
    assert len(uuids) == 1
    lines = total.splitlines()
    assert result["numSessions"] == len(lines) > 0
    assert result["numBytes"] == len(total)
    for line in lines:
        assert isinstance(orjson.loads(line), dict)


def test_csv_export_has_six_kinds(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260612", exportFormat="csv")
    assert result["state"] == "FINISHED"
    kinds = {}
    for url in result["files"]:
        m = CSV_URL_RE.fullmatch(url)
        assert m, url
        kinds.setdefault(m.group(1), []).append(int(m.group(2)))
    assert set(kinds) == {
        "sessions",
        "states",
        "events",
        "eventparameters",
        "userattributes",
        "experiments",
    }
    for shards in kinds.values():
        assert sorted(shards) == list(range(len(shards)))
    sizes = [len(api.download(url)) for url in result["files"]]
    assert result["numBytes"] == sum(sizes)
    # numSessions = rows of the sessions files (csv module: quoted newlines are one row)
    import csv
    import io

    rows = 0
    for url in result["files"]:
        if "-outputsessions-" in url:
            text = api.download(url).decode("utf-8")
            rows += len(list(csv.reader(io.StringIO(text, newline="")))) - 1
    assert rows == result["numSessions"] > 0


def test_dates_select_sessions_by_pacific_start_day(simulator: Any, api: Any) -> None:
    from zoneinfo import ZoneInfo

    result = api.export(simulator, startDate="20260613", endDate="20260614")
    pacific = ZoneInfo("America/Los_Angeles")
    days = set()
    for url in result["files"]:
        for line in api.download(url).splitlines():
            start = float(orjson.loads(line)["time"])
            days.add(datetime.fromtimestamp(start, pacific).date().isoformat())
    assert days == {"2026-06-13", "2026-06-14"}


def test_empty_selection_finishes_with_no_files(simulator: Any, api: Any) -> None:
    # a future day: nothing is available yet
    result = api.export(simulator, startDate="20260620")
    assert result["state"] == "FINISHED"
    assert result["numSessions"] == 0 and result["files"] == [] and result["numBytes"] == 0


def _all_lines(api: Any, result: dict[str, Any]) -> list[bytes]:
    return sorted(line for url in result["files"] for line in api.download(url).splitlines())


def test_get_post_form_post_json_multipart_are_equivalent(simulator: Any, api: Any) -> None:
    sim = simulator
    args = {
        "appId": sim.app_id,
        "clientKey": sim.export_key,
        "apiVersion": "1.0.6",
        "action": "exportData",
        "startDate": "20260612",
        "endDate": "20260613",
        "devMode": "false",
    }
    responses = [
        requests.get(sim.api_url, params=args, timeout=10),
        requests.post(sim.api_url, data=args, timeout=10),
        requests.post(sim.api_url, json=args, timeout=10),
        requests.post(sim.api_url, files={k: (None, v) for k, v in args.items()}, timeout=10),
        # mixed: credentials in the URL, the rest in the body
        requests.post(
            sim.api_url,
            params={k: args[k] for k in ("appId", "clientKey", "apiVersion")},
            data={k: v for k, v in args.items() if k not in ("appId", "clientKey")},
            timeout=10,
        ),
        # all in the URL, empty body (like CleverTap's tool)
        requests.post(sim.api_url, params=args, timeout=10),
    ]
    results = []
    for response in responses:
        assert response.status_code == 200, response.text
        job_id = response.json()["response"][0]["jobId"]
        results.append(api.wait_job(sim, job_id))
    reference = _all_lines(api, results[0])
    assert reference
    for result in results[1:]:
        assert result["numSessions"] == results[0]["numSessions"]
        assert _all_lines(api, result) == reference
    # JSON bodies may carry real JSON types
    typed = requests.post(
        sim.api_url, json={**args, "devMode": False, "startTime": 0}, timeout=10
    ).json()
    assert typed["response"][0]["success"] is False  # startTime 0 is older than 60 days


def test_get_export_results_by_post_json(simulator: Any, api: Any) -> None:
    sim = simulator
    _, item = api.call(sim, "exportData", startDate="20260614")
    body = {
        "appId": sim.app_id,
        "clientKey": sim.export_key,
        "apiVersion": "1.0.6",
        "action": "getExportResults",
        "jobId": item["jobId"],
    }
    response = requests.post(sim.api_url, json=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["response"][0]["jobId"] == item["jobId"]


# -- errors (spec 7.3): status, exact message, never counted --------------------------------

BAD_EXPORTS = [
    ({"appId": None}, 400, "appId"),
    ({"clientKey": None}, 400, "clientKey"),
    ({"apiVersion": None}, 400, "apiVersion"),
    ({"apiVersion": "1.0.5"}, 400, "apiVersion"),
    ({"action": None}, 400, "action"),
    ({"startDate": None}, 400, "startDate"),
    ({"startDate": "2026-06-10"}, 400, "startDate"),
    ({"startDate": "20261310"}, 400, "startDate"),
    ({"endDate": "20260609"}, 400, "endDate"),
    ({"endDate": "tomorrow"}, 400, "endDate"),
    ({"exportFormat": "xml"}, 400, "exportFormat"),
    ({"startTime": "yesterday"}, 400, "startTime"),
    ({"endTime": "1e400"}, 400, "endTime"),
    ({"compressData": "maybe"}, 400, "compressData"),
    ({"devMode": "perhaps"}, 400, "devMode"),
    ({"s3BucketName": "b"}, 400, "s3AccessId"),
    ({"s3BucketName": "b", "s3AccessId": "AKIA"}, 400, "s3AccessKey"),
    ({"callbackUrl": "ftp://127.0.0.1/x"}, 400, "callbackUrl"),
    ({"callbackUrl": "http://example.com/hook"}, 400, "callbackUrl"),
    ({"action": "exportEverything"}, 400, "exportEverything"),
    ({"clientKey": "exp_wrong"}, 403, "Invalid access key"),
    ({"appId": "app_unknown"}, 403, "Invalid access key"),
]


@pytest.mark.parametrize(("change", "status", "named"), BAD_EXPORTS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_export_calls(
    simulator: Any, change: dict[str, Any], status: int, named: str, method: str
) -> None:
    args: dict[str, Any] = {
        "appId": simulator.app_id,
        "clientKey": simulator.export_key,
        "apiVersion": "1.0.6",
        "action": "exportData",
        "startDate": "20260610",
        "endDate": "20260612",
    }
    args.update(change)
    args = {k: v for k, v in args.items() if v is not None}
    if method == "GET":
        response = requests.get(simulator.api_url, params=args, timeout=10)
    else:
        response = requests.post(simulator.api_url, data=args, timeout=10)
    assert response.status_code == status
    item = response.json()["response"][0]
    assert item["success"] is False
    assert named in item["error"]["message"]
    if status == 403:
        assert item["error"]["message"] == "Invalid access key"
    assert sum(simulator.stats.exports_accepted.values()) == 0
    assert simulator.stats.calls["exportData"] + simulator.stats.calls["other"] == 1


def test_missing_action_is_400(simulator: Any) -> None:
    args = {"appId": simulator.app_id, "clientKey": simulator.export_key, "apiVersion": "1.0.6"}
    response = requests.get(simulator.api_url, params=args, timeout=10)
    assert response.status_code == 400
    assert "action" in response.json()["response"][0]["error"]["message"]


def test_key_of_another_app_is_invalid(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(n_apps=2)
    first, second = sim.apps
    assert first.app_id != second.app_id and first.export_key != second.export_key
    status, item = api.call(
        sim, "exportData", appId=first.app_id, clientKey=second.export_key, startDate="20260610"
    )
    assert (status, item["error"]["message"]) == (403, "Invalid access key")
    # each app works with its own key, and jobs are private to their app
    result = api.export(sim, app=second, startDate="20260614")
    assert result["state"] == "FINISHED"
    status, item = api.call(sim, "getExportResults", jobId=result["jobId"], app=first)
    assert (status, item["error"]["message"]) == (404, "Export job not found")


def test_get_export_results_errors(simulator: Any, api: Any) -> None:
    status, item = api.call(simulator, "getExportResults")
    assert status == 400 and "jobId" in item["error"]["message"]
    status, item = api.call(simulator, "getExportResults", jobId="export_1_2")
    assert (status, item["success"], item["error"]["message"]) == (
        404,
        False,
        "Export job not found",
    )
    status, item = api.call(simulator, "getExportResults", jobId="x", clientKey="nope")
    assert (status, item["error"]["message"]) == (403, "Invalid access key")


def test_sixty_day_rule(simulator: Any, api: Any) -> None:
    # now is 2026-06-15 13:00 PDT; 60 days before is 2026-04-16
    status, item = api.call(simulator, "exportData", startDate="20260415", endDate="20260420")
    assert status == 200
    assert item == {
        "success": False,
        "error": {"message": "You cannot export data older than 60 days"},
    }
    status, item = api.call(simulator, "exportData", startDate="20260416")
    assert status == 200 and item["success"] is True
    now = simulator.clock.now()
    old = str(int(now - 60 * 86400 - 1))
    status, item = api.call(simulator, "exportData", startDate="20260610", startTime=old)
    assert status == 200 and item["success"] is False
    assert item["error"]["message"] == "You cannot export data older than 60 days"
    status, item = api.call(
        simulator, "exportData", startDate="20260610", startTime=str(int(now - 60 * 86400 + 60))
    )
    assert item["success"] is True
    assert sum(simulator.stats.exports_accepted.values()) == 2


def test_quota_24_per_pacific_day_resets_at_pacific_midnight(make_simulator: Any, api: Any) -> None:
    # Jobs never leave PENDING here: this test is about the counter only.
    clock = SimClock(datetime(2026, 6, 16, 6, 0, tzinfo=timezone.utc), frozen=True)  # 23:00 PDT
    sim = make_simulator(clock=clock, pending_seconds=3600)
    for n in range(24):
        status, item = api.call(sim, "exportData", startDate="20260614")
        assert status == 200 and item["success"] is True, n
        # invalid calls in between never count
        bad_status, _ = api.call(sim, "exportData", startDate="2026-06-14")
        assert bad_status == 400
    status, item = api.call(sim, "exportData", startDate="20260614")
    assert status == 429
    assert item == {"success": False, "error": {"message": "Export limit of 24 per day exceeded"}}
    assert sim.stats.exports_accepted[(sim.app_id, "2026-06-15")] == 24
    # getExportResults is not limited
    status, _ = api.call(sim, "getExportResults", jobId="export_1_1")
    assert status == 404
    # one second before Pacific midnight (07:00Z in PDT): still refused
    clock.set(datetime(2026, 6, 16, 6, 59, 59, tzinfo=timezone.utc))
    assert api.call(sim, "exportData", startDate="20260614")[0] == 429
    clock.advance(1)  # 00:00:00 PDT
    status, item = api.call(sim, "exportData", startDate="20260614")
    assert status == 200 and item["success"] is True
    assert sim.stats.exports_accepted[(sim.app_id, "2026-06-16")] == 1


def test_quota_day_follows_pst_in_winter(make_simulator: Any, api: Any) -> None:
    # In January, Pacific midnight is 08:00Z (PST, UTC-8).
    clock = SimClock(datetime(2026, 1, 10, 7, 59, 59, tzinfo=timezone.utc), frozen=True)
    sim = make_simulator(clock=clock, pending_seconds=3600, daily_export_limit=1)
    assert api.call(sim, "exportData", startDate="20260105")[0] == 200
    assert api.call(sim, "exportData", startDate="20260105")[0] == 429
    clock.advance(1)
    assert api.call(sim, "exportData", startDate="20260105")[0] == 200
    assert dict(sim.stats.exports_accepted) == {
        (sim.app_id, "2026-01-09"): 1,
        (sim.app_id, "2026-01-10"): 1,
    }


def test_quota_is_per_app(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(n_apps=2, pending_seconds=3600, daily_export_limit=2)
    first, second = sim.apps
    for _ in range(2):
        assert api.call(sim, "exportData", app=first, startDate="20260614")[0] == 200
    assert api.call(sim, "exportData", app=first, startDate="20260614")[0] == 429
    assert api.call(sim, "exportData", app=second, startDate="20260614")[0] == 200


def test_unknown_path_and_head(simulator: Any) -> None:
    assert requests.get(simulator.base_url + "/nope", timeout=10).status_code == 404
    assert requests.head(simulator.api_url, timeout=10).status_code == 405
    assert simulator.stats.calls["other"] == 0


def test_stats_count_calls_by_action(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260614")
    api.call(simulator, "exportUsers")
    assert simulator.stats.calls["exportData"] == 1
    assert simulator.stats.calls["getExportResults"] >= 1
    assert simulator.stats.calls["other"] == 1
    assert result["state"] == "FINISHED"


def test_clock_moves_do_not_change_old_results(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260614")
    simulator.clock.advance(timedelta(days=3).total_seconds())
    status, again = api.call(simulator, "getExportResults", jobId=result["jobId"])
    assert status == 200 and again == result


def test_concurrent_exports_never_exceed_the_quota(make_simulator: Any, api: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sim = make_simulator(pending_seconds=3600)

    def one(_: int) -> int:
        return int(api.call(sim, "exportData", startDate="20260614")[0])

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(one, range(30)))
    assert sorted(statuses) == [200] * 24 + [429] * 6
    assert sim.stats.exports_accepted[(sim.app_id, "2026-06-15")] == 24
