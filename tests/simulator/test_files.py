"""Export files over real HTTP: Range requests, 24 h expiry, splitting, determinism, lateness."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import requests

from leanplum_notebook.simulator import SimClock

NOW = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)  # the conftest fixtures' frozen now


def _first_file(api: Any, sim: Any) -> tuple[str, bytes]:
    result = api.export(sim, startDate="20260613", endDate="20260614")
    url = result["files"][0]
    return url, api.download(url)


def test_range_requests(simulator: Any, api: Any) -> None:
    url, whole = _first_file(api, simulator)
    size = len(whole)
    assert size > 1000
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-50": (size - 50, size - 1),
        f"bytes=10-{size + 500}": (10, size - 1),  # end past the file: clipped
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
    }
    for header, (first, last) in cases.items():
        response = requests.get(url, headers={"Range": header}, timeout=10)
        assert response.status_code == 206, header
        assert response.content == whole[first : last + 1], header
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert int(response.headers["Content-Length"]) == last - first + 1
        assert response.headers["Accept-Ranges"] == "bytes"
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        response = requests.get(url, headers={"Range": header}, timeout=10)
        assert response.status_code == 416, header
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert int(response.headers["Content-Length"]) == len(response.content)
    # malformed or multi-range: the whole file, 200
    for header in ("bytes=5-2", "items=0-10", "bytes=0-1,5-6"):
        response = requests.get(url, headers={"Range": header}, timeout=10)
        assert response.status_code == 200 and response.content == whole, header
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size
    assert head.content == b""


def test_resume_a_download_by_ranges(simulator: Any, api: Any) -> None:
    url, whole = _first_file(api, simulator)
    got = b""
    while len(got) < len(whole):
        response = requests.get(url, headers={"Range": f"bytes={len(got)}-"}, timeout=10)
        assert response.status_code == 206
        got += response.content[:1000]  # pretend the connection broke after 1000 bytes
    assert got == whole


def test_files_expire_24h_after_the_job_finished(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260614")
    url = result["files"][0]
    api.download(url)
    simulator.clock.advance(24 * 3600 - 1)
    api.download(url)
    simulator.clock.advance(1)
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.get(url, headers={"Range": "bytes=0-10"}, timeout=10).status_code == 404
    # the job is still reported, with the same (now dead) file list
    status, item = api.call(simulator, "getExportResults", jobId=result["jobId"])
    assert status == 200 and item == result


def test_unknown_file_is_404(simulator: Any) -> None:
    url = simulator.base_url + "/leanplum_export/export-1-2-output-0"
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.get(simulator.base_url + "/leanplum_export/../api", timeout=10).status_code in (
        400,
        404,
    )


def test_files_split_at_max_file_bytes_on_line_boundaries(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260610", endDate="20260614")
    bodies = [api.download(url) for url in result["files"]]
    assert len(bodies) >= 3
    for body in bodies:
        assert len(body) <= 64 * 1024
        assert body.endswith(b"\n")
        for line in body.splitlines():
            orjson.loads(line)  # every line is a whole session
    ids = [orjson.loads(line)["sessionId"] for body in bodies for line in body.splitlines()]
    assert len(ids) == len(set(ids)) == result["numSessions"]


def test_rows_are_not_sorted(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260612", endDate="20260614")
    starts = [
        float(orjson.loads(line)["time"])
        for url in result["files"]
        for line in api.download(url).splitlines()
    ]
    assert starts != sorted(starts)


def _export_bytes(api: Any, sim: Any, **params: Any) -> list[tuple[str, bytes]]:
    result = api.export(sim, **params)
    return [(url.rsplit("/", 1)[1], api.download(url)) for url in result["files"]]


def test_same_seed_gives_byte_identical_files(make_simulator: Any, api: Any) -> None:
    runs = []
    for _ in range(2):
        sim = make_simulator(seed=7)
        runs.append(
            (
                sim.app_id,
                _export_bytes(api, sim, startDate="20260612", endDate="20260613"),
                _export_bytes(api, sim, startDate="20260613", exportFormat="csv"),
            )
        )
    assert runs[0] == runs[1]
    assert runs[0][1] and runs[0][2]
    other = make_simulator(seed=8)
    assert other.app_id != runs[0][0]
    assert _export_bytes(api, other, startDate="20260612", endDate="20260613") != runs[0][1]


def _sessions(api: Any, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lines = [line for url in result["files"] for line in api.download(url).splitlines()]
    return {orjson.loads(line)["sessionId"]: orjson.loads(line) for line in lines}


def test_late_sessions_show_up_in_a_later_start_time_window(make_simulator: Any, api: Any) -> None:
    clock = SimClock(NOW, frozen=True)
    sim = make_simulator(clock=clock)
    first_now = clock.now()
    days = {"startDate": "20260609", "endDate": "20260614"}
    before = _sessions(api, api.export(sim, **days, endTime=str(int(first_now))))
    assert before
    clock.advance(9 * 86400)  # past the 8-day lateness limit
    late = _sessions(api, api.export(sim, **days, startTime=str(int(first_now))))
    everything = _sessions(api, api.export(sim, **days))
    assert late, "no late session arrived after the first export"
    assert not set(late) & set(before)
    assert set(everything) == set(before) | set(late)
    # the first window's sessions are unchanged when exported again
    again = _sessions(api, api.export(sim, **days, endTime=str(int(first_now))))
    assert again == before


def test_start_and_end_time_filter_on_the_two_hour_availability_grid(
    simulator: Any, api: Any
) -> None:
    # now (20:00Z) is on the 2-hour UTC grid; sessions become available exactly on grid points,
    # so [g, g+1) holds a batch and (g, g+7200) holds nothing: start inclusive, end exclusive.
    now = int(simulator.clock.now())
    assert now % 7200 == 0
    days = {"startDate": "20260614", "endDate": "20260615"}
    on_grid = 0
    for g in (now - 4 * 7200, now - 2 * 7200, now):
        on_grid += api.export(simulator, **days, startTime=str(g), endTime=str(g + 1))[
            "numSessions"
        ]
        between = api.export(simulator, **days, startTime=str(g - 7199), endTime=str(g))
        assert between["numSessions"] == 0
    assert on_grid > 0


def test_files_live_in_a_temp_dir_removed_on_close(api: Any) -> None:
    from leanplum_notebook.simulator import DataConfig, Simulator

    sim = Simulator(
        clock=SimClock(NOW, frozen=True),
        data=DataConfig(initial_users=100, new_users_per_day=5.0, history_days=10),
        pending_seconds=0,
        running_seconds=0,
    ).start()
    try:
        result = api.export(sim, startDate="20260614")
        workdir = sim.workdir
        assert workdir is not None and workdir.is_dir()
        names = {p.name for p in workdir.rglob("*") if p.is_file()}
        assert {url.rsplit("/", 1)[1] for url in result["files"]} <= names
    finally:
        sim.close()
    assert not workdir.exists()
    assert sim.workdir is None
