"""Helpers for the simulator's contract tests: talk to it over real HTTP with requests."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests


def call_api(
    sim: Any, action: str, *, method: str = "GET", app: Any = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    """Call ``action`` on ``sim`` with the first app's credentials; return (status, item).

    ``item`` is the single element of the ``response`` envelope (the envelope is checked).
    Parameters set to ``None`` are left out.
    """
    app = app or sim.apps[0]
    args = {
        "appId": app.app_id,
        "clientKey": app.export_key,
        "apiVersion": "1.0.6",
        "action": action,
        **params,
    }
    args = {k: v for k, v in args.items() if v is not None}
    if method == "GET":
        response = requests.get(sim.api_url, params=args, timeout=30)
    else:
        response = requests.post(sim.api_url, data=args, timeout=30)
    body = response.json()
    assert list(body) == ["response"] and len(body["response"]) == 1, body
    return response.status_code, body["response"][0]


def wait_job(sim: Any, job_id: str, *, timeout: float = 30.0, app: Any = None) -> dict[str, Any]:
    """Poll getExportResults until the job is FINISHED or FAILED; return the result item."""
    deadline = time.monotonic() + timeout
    while True:
        status, item = call_api(sim, "getExportResults", jobId=job_id, app=app)
        assert status == 200, item
        if item["state"] in ("FINISHED", "FAILED"):
            return item
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {item['state']} after {timeout} s")
        time.sleep(0.05)


def export(sim: Any, *, app: Any = None, **params: Any) -> dict[str, Any]:
    """exportData (must be accepted), then wait for the job; return the final result item."""
    status, item = call_api(sim, "exportData", app=app, **params)
    assert status == 200 and item["success"] is True, item
    return wait_job(sim, item["jobId"], app=app)


def download(url: str, **kwargs: Any) -> bytes:
    """GET a file URL; the download must succeed with a full body."""
    response = requests.get(url, timeout=30, **kwargs)
    assert response.status_code == 200, response.status_code
    assert int(response.headers["Content-Length"]) == len(response.content)
    return response.content


class Api:
    """The helpers above, handed to tests through the ``api`` fixture (importlib mode cannot
    import from conftest)."""

    call = staticmethod(call_api)
    wait_job = staticmethod(wait_job)
    export = staticmethod(export)
    download = staticmethod(download)


@pytest.fixture
def api() -> Api:
    """Helpers to call the simulator over HTTP: ``api.call``, ``api.export``, ``api.download``."""
    return Api()
