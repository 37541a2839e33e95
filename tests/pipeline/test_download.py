"""Downloads against a local HTTP server: flat memory, names that cannot escape, size checks."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.api.download import download_files, file_names


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_memory_stays_flat_for_a_large_file(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    size = 48 * 2**20
    with open(root / "export-1-output-0", "wb") as fh:
        for _ in range(size // 2**20):
            fh.write(os.urandom(2**20))
    (root / "export-1-output-1").write_bytes(b"x" * 1000)
    urls = [f"{base}/export-1-output-0", f"{base}/export-1-output-1"]
    tracemalloc.start()
    try:
        files = download_files(
            urls,
            tmp_path / "dl",
            session=requests.Session(),
            expected_bytes=size + 1000,
            progress=False,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak  # a 48 MiB file never sits in memory
    assert [f["size"] for f in files] == [size, 1000]
    assert (tmp_path / "dl" / "export-1-output-0").read_bytes() == (
        root / "export-1-output-0"
    ).read_bytes()


def test_size_mismatch_with_num_bytes_is_an_error(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    (root / "f-output-0").write_bytes(b"abc")
    with pytest.raises(errors.DownloadError, match="numBytes=4"):
        download_files(
            [f"{base}/f-output-0"],
            tmp_path,
            session=requests.Session(),
            expected_bytes=4,
            progress=False,
        )


def test_missing_file_is_reported_as_expired(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(errors.FilesExpired, match="24 h"):
        download_files(
            [f"{base}/gone-output-0"], tmp_path / "dl", session=requests.Session(), progress=False
        )
    assert list((tmp_path / "dl").iterdir()) == []  # nothing that looks complete


def test_file_names_are_sanitised() -> None:
    names = file_names(
        [
            "https://h/leanplum_export/export-1-uuid-output-0",
            "https://h/a/x%2F..%2F..%2Fetc%2Fpasswd",
        ]
    )
    assert names == ["export-1-uuid-output-0", "x_.._.._etc_passwd"]
    for bad in ("file:///etc/passwd", "ftp://h/x", "https://h/..", "https://h/a/..%2F..%2Fx"):
        with pytest.raises(errors.ValidationError):
            file_names([bad])


@pytest.mark.parametrize(
    ("listing", "why"),
    [
        (["https://h/a/X-output-0", "https://h/b/X-output-0"], "under one name"),
        (["https://h/a/X-output-0", "https://h/a/X-output-0"], "under one name"),
        (["https://h/a/x-OUTPUT-0", "https://h/b/X-output-0"], "under one name"),  # macOS
        (["https://h/a/X-output-0.part", "https://h/a/X-output-0"], "until it is complete"),
        (["https://h/a/X-output-0", "https://h/a/X-output-0.PART"], "until it is complete"),
    ],
)
def test_colliding_file_names_are_refused(listing: list[str], why: str) -> None:
    with pytest.raises(errors.InvalidAnswer, match=why):
        file_names(listing)


def test_size_check_retries_each_file_on_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One faulty answer while checking sizes is retried for that file alone."""
    from leanplum_notebook.api import download as dl

    answers: list[object] = [dl._Broken("HTTP 500 while checking f"), True]

    def flaky_probe(url: str, path: Path, **kw: object) -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    slept: list[float] = []
    monkeypatch.setattr(dl, "_probe", flaky_probe)
    assert dl._probe_retrying("u", tmp_path / "f", attempts=3, sleep=slept.append) is True
    assert answers == [] and len(slept) == 1
    answers[:] = [dl._Broken("x"), dl._Broken("y")]
    with pytest.raises(dl._Broken, match="y"):
        dl._probe_retrying("u", tmp_path / "f", attempts=2, sleep=slept.append)
