"""The S3 copy (spec 7.10) against moto's real S3 server, and the callbackUrl POST (7.9)."""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import orjson
import pytest
import requests

S3_SECRET = "s3-secret-never-logged-1234"


def _s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(moto_s3: str, request: pytest.FixtureRequest) -> str:
    name = "sim-" + request.node.name.lower().replace("_", "-")[:40]
    _s3(moto_s3).create_bucket(Bucket=name)
    return name


def _s3_args(bucket: str, **extra: str) -> dict[str, str]:
    return {"s3BucketName": bucket, "s3AccessId": "AKIDEXAMPLE", "s3AccessKey": S3_SECRET, **extra}


def test_s3_copy_compressed_with_manifest(
    make_simulator: Any, api: Any, moto_s3: str, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_simulator(s3_endpoint_url=moto_s3)
    result = api.export(
        sim,
        startDate="20260613",
        endDate="20260614",
        **_s3_args(bucket, s3ObjectPrefix="exports/daily/", compressData="true"),
    )
    assert result["state"] == "FINISHED", result
    s3 = _s3(moto_s3)
    keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    status = result["s3CopyStatus"]
    assert status["failure"] == []
    assert [item["sourceFile"] for item in status["success"]] == result["files"]
    stem = result["files"][0].rsplit("/", 1)[1].rsplit("-output-", 1)[0]
    manifest_key = f"exports/daily/{stem}-output-manifest"
    expected = {f"exports/daily/{url.rsplit('/', 1)[1]}.gz" for url in result["files"]}
    assert keys == expected | {manifest_key}
    manifest = orjson.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert manifest == [item["destFile"] for item in status["success"]]
    assert set(manifest) == expected
    for item in status["success"]:
        stored = s3.get_object(Bucket=bucket, Key=item["destFile"])["Body"].read()
        assert gzip.decompress(stored) == api.download(item["sourceFile"])
    # Every log line from the simulator's threads (server, job, boto3 at DEBUG) is free of the
    # S3 secret and the export key. (The test's own requests calls, in the main thread, log
    # their query strings at DEBUG through urllib3: that is the client's business, not ours.)
    ours = [r.getMessage() for r in caplog.records if r.threadName != "MainThread"]
    assert any("botocore" in r.name for r in caplog.records if r.threadName != "MainThread")
    assert ours and not any(S3_SECRET in line or sim.export_key in line for line in ours)


def test_s3_copy_uncompressed_csv(make_simulator: Any, api: Any, moto_s3: str, bucket: str) -> None:
    sim = make_simulator(s3_endpoint_url=moto_s3)
    result = api.export(sim, startDate="20260614", exportFormat="csv", **_s3_args(bucket))
    assert result["state"] == "FINISHED"
    s3 = _s3(moto_s3)
    for item in result["s3CopyStatus"]["success"]:
        name = item["sourceFile"].rsplit("/", 1)[1]
        assert item["destFile"] == name  # no prefix, no .gz
        stored = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
        assert stored == api.download(item["sourceFile"])
    assert len(result["s3CopyStatus"]["success"]) == len(result["files"]) >= 6


def test_s3_missing_bucket_fails_the_job(make_simulator: Any, api: Any, moto_s3: str) -> None:
    sim = make_simulator(s3_endpoint_url=moto_s3)
    result = api.export(sim, startDate="20260614", **_s3_args("no-such-bucket-here"))
    assert result["state"] == "FAILED"
    message = result["error"]["message"]
    assert "bucket" in message and "does not exist" in message
    assert S3_SECRET not in message
    assert "files" not in result


def test_s3_bad_credentials_fail_the_job(
    make_simulator: Any, api: Any, moto_s3: str, bucket: str
) -> None:
    sim = make_simulator(s3_endpoint_url=moto_s3)
    # Turn on moto's authentication (unknown access keys are refused), then restore it.
    reset = f"{moto_s3}/moto-api/reset-auth"
    assert requests.post(reset, data=b"0", timeout=10).status_code == 200
    try:
        result = api.export(sim, startDate="20260614", **_s3_args(bucket))
    finally:
        requests.post(reset, data=b"inf", timeout=10)
    assert result["state"] == "FAILED"
    message = result["error"]["message"]
    assert message.startswith("S3 copy failed:") and "access key" in message
    assert S3_SECRET not in message


def test_s3_unreachable_endpoint_fails_the_job(make_simulator: Any, api: Any) -> None:
    sim = make_simulator(s3_endpoint_url="http://127.0.0.1:9")  # discard port: nothing there
    result = api.export(sim, startDate="20260614", **_s3_args("bucket"))
    assert result["state"] == "FAILED"
    assert result["error"]["message"].startswith("S3 copy failed:")


class _Receiver:
    """A tiny local HTTP server that records the POSTs it gets."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append((self.headers["Content-Type"], self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.got.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def test_callback_posts_the_results_body_once(
    simulator: Any, api: Any, receiver: _Receiver
) -> None:
    result = api.export(simulator, startDate="20260614", callbackUrl=receiver.url)
    assert receiver.got.wait(10)
    _, again = api.call(simulator, "getExportResults", jobId=result["jobId"])
    assert len(receiver.bodies) == 1
    content_type, body = receiver.bodies[0]
    assert content_type == "application/json"
    assert orjson.loads(body) == {"response": [again]}
    assert again["state"] == "FINISHED"


def test_callback_on_failed_job(
    make_simulator: Any, api: Any, moto_s3: str, receiver: _Receiver
) -> None:
    sim = make_simulator(s3_endpoint_url=moto_s3)
    result = api.export(
        sim, startDate="20260614", callbackUrl=receiver.url, **_s3_args("no-such-bucket-2")
    )
    assert receiver.got.wait(10)
    assert orjson.loads(receiver.bodies[0][1]) == {"response": [result]}
    assert result["state"] == "FAILED"


def test_failing_callback_does_not_fail_the_job(simulator: Any, api: Any) -> None:
    result = api.export(simulator, startDate="20260614", callbackUrl="http://127.0.0.1:9/hook")
    assert result["state"] == "FINISHED"


def test_remote_callbacks_only_when_allowed(make_simulator: Any, api: Any) -> None:
    sim = make_simulator()
    status, item = api.call(
        sim, "exportData", startDate="20260614", callbackUrl="http://10.1.2.3/hook"
    )
    assert status == 400 and "callbackUrl" in item["error"]["message"]
    allowed = make_simulator(allow_remote_callbacks=True, pending_seconds=3600)
    status, item = api.call(
        allowed, "exportData", startDate="20260614", callbackUrl="http://10.1.2.3/hook"
    )
    assert status == 200 and item["success"] is True
