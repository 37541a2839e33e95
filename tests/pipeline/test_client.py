"""Client over HTTP: retries, the no-blind-retry rule for exportData, connect errors."""

from __future__ import annotations

import socket
from datetime import date
from typing import Any

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.api.client import Client, RetryPolicy
from leanplum_notebook.models import ExportRequest
from leanplum_notebook.settings import Settings
from leanplum_notebook.simulator import FaultConfig

REQ = ExportRequest(date(2026, 6, 1), date(2026, 6, 1))


def _client(sim: Any, **kw: Any) -> tuple[Client, list[float]]:
    sleeps: list[float] = []
    settings = Settings(sim.app_id, sim.export_key, sim.api_url)
    kw.setdefault("retry", RetryPolicy(attempts=4, base=0.01, cap=0.05))
    return Client(settings, sleep=sleeps.append, **kw), sleeps


def test_export_and_results_round_trip(make_simulator: Any) -> None:
    sim = make_simulator()
    client, _ = _client(sim)
    job = client.export_data(REQ)
    assert job.startswith("export_")
    st = client.get_export_results(job)
    assert st.job_id == job and st.state in ("PENDING", "RUNNING", "FINISHED")
    with pytest.raises(errors.JobNotFound):
        client.get_export_results("export_1_2")


def test_read_timeout_on_export_data_is_not_retried(make_simulator: Any) -> None:
    sim = make_simulator(faults=FaultConfig(first={"slow": 1}, slow_seconds=1.5))
    client, sleeps = _client(sim, timeout=(2.0, 0.3))
    with pytest.raises(errors.ExportOutcomeUnknown, match="ReadTimeout"):
        client.export_data(REQ)
    assert sim.stats.calls["exportData"] == 1 and sleeps == []


def test_get_export_results_is_retried_after_a_dropped_connection(make_simulator: Any) -> None:
    sim = make_simulator()
    client, sleeps = _client(sim)
    job = client.export_data(REQ)
    # a second simulator whose first API call is dropped after it was handled
    sim2 = make_simulator(faults=FaultConfig(first={"drop_connection": 1}))
    c2, sleeps2 = _client(sim2)
    with pytest.raises(errors.JobNotFound):  # dropped once, retried, then answered
        c2.get_export_results(job)
    assert sim2.stats.faults["drop_connection"] == 1 and len(sleeps2) == 1
    assert sleeps == []


def test_connect_errors_are_retried_then_raised(make_simulator: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    settings = Settings("app_x", "exp_secret_value", f"http://127.0.0.1:{port}/api")
    sleeps: list[float] = []
    client = Client(settings, sleep=sleeps.append, retry=RetryPolicy(attempts=3, base=0.01))
    with pytest.raises(errors.TransientError, match="cannot connect") as info:
        client.export_data(REQ)  # safe to retry: the request never left
    assert len(sleeps) == 2
    assert "exp_secret_value" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # no URL chained


def test_session_is_injectable(make_simulator: Any) -> None:
    sim = make_simulator()
    session = requests.Session()
    seen: list[str] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.method or ""))
    client, _ = _client(sim, session=session)
    client.export_data(REQ)
    assert seen == ["POST"]  # the key travels in the body, never in a URL
    assert sim.stats.calls["exportData"] == 1
