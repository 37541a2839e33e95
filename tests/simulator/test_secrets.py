"""The export key and the S3 secret never reach the simulator's logs or reprs."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
import requests

from leanplum_notebook.simulator.api import S3Target


def test_key_never_logged(simulator: Any, api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="leanplum_notebook")
    key = simulator.export_key
    result = api.export(simulator, startDate="20260614")
    api.download(result["files"][0])
    api.call(simulator, "exportData", startDate="bad")  # 400
    api.call(simulator, "nope", startDate="20260614")  # unknown action
    requests.post(
        simulator.api_url,
        data={"appId": simulator.app_id, "clientKey": key, "apiVersion": "1.0.6"},
        timeout=10,
    )
    # a malformed request line carrying the key: the stdlib logs it as "Bad request syntax"
    with socket.create_connection(("127.0.0.1", simulator.port), timeout=10) as raw:
        raw.sendall(f"/api?clientKey={key}&x=1\r\n\r\n".encode())
        assert b"400" in raw.recv(4000)
    # and one with s3 credentials
    api.call(
        simulator,
        "exportData",
        startDate="20260614",
        s3BucketName="b",
        s3AccessId="AKID",
        s3AccessKey="top-secret-s3",
        callbackUrl="http://8.8.8.8/",
    )
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("leanplum"))
    assert "/api" in text and "Bad request" in text  # the lines are there...
    assert key not in text and "top-secret-s3" not in text  # ...without the secrets


def test_reprs_hide_secrets(simulator: Any) -> None:
    assert simulator.export_key not in repr(simulator)
    assert simulator.export_key not in repr(simulator.apps[0])
    target = S3Target("bucket", "AKID", "top-secret-s3", "p/", True)
    assert "top-secret-s3" not in repr(target) and "bucket" in repr(target)
