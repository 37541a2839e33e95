"""Streamed, resumable, parallel downloads of an export job's files.

Each file is streamed to ``<name>.part`` in 64 KiB chunks (memory stays flat whatever the
size), resumed with an HTTP ``Range`` request after a break, checked against
``Content-Length`` (and ``Content-Range``), and renamed to its final name only when the
whole set is proven complete: every file at the size its host announced, their total equal
to the job's ``numBytes``, and the caller's own check (the sessions counted) passed.
Nothing the storage host says replaces that proof: a host that calls a short file whole
(``416 bytes */<short size>``) leaves the set incomplete.

The job's file names never collide: a listing with two URLs that would be stored under
one name (case-insensitively), or with a name that is another's temporary ``.part`` name,
is refused with :class:`~leanplum_notebook.errors.InvalidAnswer`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from leanplum_notebook.api.client import retry_after_seconds
from leanplum_notebook.errors import (
    DownloadError,
    FilesExpired,
    IncompleteExport,
    InvalidAnswer,
    ValidationError,
)
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.store.files import safe_name

__all__ = ["download_files", "file_names"]

logger = get_logger(__name__)

CHUNK = 1 << 16
_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_TOTAL_RE = re.compile(r"bytes\s+\*/(\d+)")


class _Broken(Exception):
    """A transfer ended short; resume it (after ``retry_after`` seconds if the host said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _refused(r: requests.Response) -> _Broken:
    """A 429 or 5xx answer: worth another try, no sooner than its ``Retry-After``."""
    return _Broken(f"HTTP {r.status_code}", retry_after=retry_after_seconds(r.headers))


def _delay(attempt: int, exc: BaseException) -> float:
    """Exponential backoff, or the host's ``Retry-After`` when that is longer."""
    delay = min(10.0, 0.2 * 2**attempt)
    wanted = getattr(exc, "retry_after", None)
    return max(delay, wanted) if wanted is not None else delay


class _Cancelled(DownloadError):
    """Stopped because another file of the job failed (not the cause itself)."""


PART = ".part"


def file_names(urls: Sequence[str]) -> list[str]:
    """Safe local names for the job's file URLs (last path segment, sanitised).

    Raises
    ------
    ValidationError
        A URL that is not http(s) or has no usable name.
    InvalidAnswer
        Two URLs that would be stored under one name (compared case-insensitively, as
        macOS and Windows do), or a name that is another's temporary ``<name>.part``.
    """
    names: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError("files", f"not an http(s) file URL: {url[:200]!r}")
        last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        names.append(safe_name(last or "file", what="file URL"))
    seen: dict[str, str] = {}  # casefolded name -> the URL it came from
    for name, url in zip(names, urls, strict=True):
        first = seen.get(name.casefold())
        seen[name.casefold()] = url
        if first is not None:
            raise InvalidAnswer(
                200,
                f"the job lists two files stored under one name {name!r} ({_shown(first)} "
                f"and {_shown(url)}): one would overwrite the other, so the listing is refused",
                "getExportResults",
            )
    for name in names:
        if name.casefold().endswith(PART) and name.casefold()[: -len(PART)] in seen:
            raise InvalidAnswer(
                200,
                f"the job lists {name!r} beside {name[: -len(PART)]!r}, whose download is "
                f"written to {name!r} until it is complete: the listing is refused",
                "getExportResults",
            )
    return names


def _probe(
    url: str,
    path: Path,
    *,
    session: requests.Session,
    timeout: tuple[float, float],
    advance: Callable[[int], None],
) -> bool:
    """Ask for the bytes after the end of ``<path>.part``; True when the server has none.

    A response that lied about its length (a short body with a matching
    ``Content-Length``) only shows in the job's total; this finds the short file and
    completes it.
    """
    part = path.with_name(path.name + PART)
    if not part.exists():
        return True  # already renamed: complete
    have = part.stat().st_size
    with session.get(
        url,
        headers={"Range": f"bytes={have}-"},
        stream=True,
        timeout=timeout,
        allow_redirects=False,
    ) as r:
        _refuse_redirect(r, url)
        if r.status_code == 416:
            m = _TOTAL_RE.match(r.headers.get("Content-Range", ""))
            return m is None or int(m.group(1)) == have
        if r.status_code in (404, 410):
            raise FilesExpired(f"{path.name} is gone from the storage host (HTTP {r.status_code})")
        if r.status_code == 429 or r.status_code >= 500:
            raise _refused(r)
        if r.status_code not in (200, 206):
            raise _Broken(f"HTTP {r.status_code} while checking {path.name}")
        mode = "ab" if r.status_code == 206 else "wb"
        if mode == "wb":
            advance(-have)
        with open(part, mode) as fh:
            for chunk in r.iter_content(CHUNK):
                fh.write(chunk)
                advance(len(chunk))
    return False


def _probe_retrying(
    url: str,
    path: Path,
    *,
    attempts: int,
    sleep: Callable[[float], None],
    **kw: Any,
) -> bool:
    """:func:`_probe` with its own retries, so one faulty answer among many files does not
    spoil the whole size check."""
    for attempt in range(max(1, attempts)):
        try:
            return _probe(url, path, **kw)
        except (requests.RequestException, _Broken) as exc:
            if attempt + 1 >= attempts:
                raise
            delay = _delay(attempt, exc)
            logger.info(
                "checking %s broke (%s); retrying in %.1f s", path.name, type(exc).__name__, delay
            )
            sleep(delay)
    return False  # not reached: the last failure is raised


def _shown(url: str) -> str:
    """A URL for messages: without its query string (it may hold a signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _refuse_redirect(r: requests.Response, url: str) -> None:
    if 300 <= r.status_code < 400:
        where = r.headers.get("Location", "")
        raise DownloadError(
            f"{_shown(url)} answered HTTP {r.status_code} (a redirect to "
            f"{_shown(where) if where else 'nowhere'}); redirects are not followed, so only the "
            "URLs the job listed are downloaded"
        )


def _current(path: Path) -> Path:
    """Where a file's bytes are now: ``<name>.part`` until the set is complete."""
    part = path.with_name(path.name + PART)
    return part if part.exists() else path


def _size(path: Path) -> int:
    return _current(path).stat().st_size


def _download_one(
    url: str,
    path: Path,
    *,
    session: requests.Session,
    timeout: tuple[float, float],
    attempts: int,
    sleep: Callable[[float], None],
    advance: Callable[[int], None],
    cancelled: threading.Event,
) -> int:
    if path.is_file():
        return path.stat().st_size  # final names are given only to a complete set
    part = path.with_name(path.name + PART)
    last_error = "no attempt"
    for attempt in range(attempts):
        if cancelled.is_set():
            raise _Cancelled(f"{path.name}: cancelled")
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            # redirects are not followed: only the URLs the job listed are fetched
            with session.get(
                url, headers=headers, stream=True, timeout=timeout, allow_redirects=False
            ) as r:
                _refuse_redirect(r, url)
                if r.status_code in (404, 410):
                    raise FilesExpired(
                        f"{path.name} is gone from the storage host (HTTP {r.status_code}): "
                        "export files are deleted 24 h after the export"
                    )
                total: int | None = None
                if r.status_code == 416 and have:
                    m = _TOTAL_RE.match(r.headers.get("Content-Range", ""))
                    if m and int(m.group(1)) == have:
                        return have  # the .part already holds the whole file
                    part.unlink()
                    raise _Broken("416 for a partial file; starting over")
                if r.status_code == 206 and have:
                    m = _RANGE_RE.match(r.headers.get("Content-Range", ""))
                    if not m or int(m.group(1)) != have:
                        part.unlink()
                        raise _Broken("unexpected Content-Range; starting over")
                    total = None if m.group(3) == "*" else int(m.group(3))
                    mode = "ab"
                elif r.status_code == 200:
                    if have:
                        advance(-have)  # the server ignored Range: start over
                    have, mode = 0, "wb"
                elif r.status_code >= 500 or r.status_code == 429:
                    raise _refused(r)
                else:
                    raise DownloadError(f"{path.name}: HTTP {r.status_code}")
                length = r.headers.get("Content-Length", "").strip()
                # a Content-Length that is not a number is no promise: the size check decides
                expected = int(length) if length.isascii() and length.isdigit() else None
                if total is None and expected is not None:
                    total = have + expected
                written = 0
                with open(part, mode) as fh:
                    for chunk in r.iter_content(CHUNK):
                        if cancelled.is_set():
                            raise _Cancelled(f"{path.name}: cancelled")
                        fh.write(chunk)
                        written += len(chunk)
                        advance(len(chunk))
                if expected is not None and written != expected:
                    raise _Broken(f"got {written} of {expected} bytes")
                size = part.stat().st_size
                if total is not None and size != total:
                    raise _Broken(f"file is {size} bytes, expected {total}")
                return size  # still .part: renamed once the whole job checks out
        except (requests.RequestException, _Broken) as exc:
            last_error = (
                f"{type(exc).__name__}: {exc}" if isinstance(exc, _Broken) else (type(exc).__name__)
            )
            delay = _delay(attempt, exc)
            logger.info(
                "download of %s broke (%s); resuming in %.1f s", path.name, last_error, delay
            )
            sleep(delay)
    raise DownloadError(f"{path.name}: still incomplete after {attempts} attempts ({last_error})")


def _confirm_sizes(
    urls: Sequence[str],
    paths: Sequence[Path],
    sizes: list[int],
    expected_bytes: int | None,
    *,
    session: requests.Session,
    timeout: tuple[float, float],
    advance: Callable[[int], None],
    attempts: int,
    sleep: Callable[[float], None],
) -> tuple[list[int], bool]:
    """The file sizes after checking their total against ``numBytes``, and whether it holds.

    ``numBytes`` is the sum of the file sizes (spec 7.12); a mismatch means a response was
    short without saying so: each file is asked for the bytes after its end. A host that
    has none to give does not make a short set whole: the answer is then False.
    """
    if expected_bytes is None or sum(sizes) == expected_bytes:
        return sizes, True
    for _ in range(attempts):
        logger.info("got %d bytes, numBytes=%s: checking each file", sum(sizes), expected_bytes)
        try:
            whole = [
                _probe_retrying(
                    u,
                    path,
                    session=session,
                    timeout=timeout,
                    advance=advance,
                    attempts=attempts,
                    sleep=sleep,
                )
                for u, path in zip(urls, paths, strict=True)
            ]
        except (requests.RequestException, _Broken) as exc:
            logger.info("size check broke (%s); retrying", type(exc).__name__)
            sleep(0.5)
            continue
        now = [_size(path) for path in paths]
        if sum(now) == expected_bytes:
            return now, True
        if all(whole) and now == sizes:
            break  # the host has nothing more to give: asking again changes nothing
        sizes = now
    return sizes, False


def _short_set(names: Sequence[str], sizes: Sequence[int], expected_bytes: int) -> str:
    """Why a set of files is not the job's export, naming the files and their sizes."""
    total = sum(sizes)
    shown = ", ".join(f"{n}: {s:,} bytes" for n, s in list(zip(names, sizes, strict=True))[:4])
    more = f" and {len(names) - 4} more" if len(names) > 4 else ""
    cut = "so a file was cut short" if total < expected_bytes else "more than announced"
    return (
        f"the job announced numBytes={expected_bytes:,} but its {len(names)} file(s) hold "
        f"{total:,} bytes ({shown}{more}), {cut}, and the storage host has no more bytes "
        "for them"
    )


def download_files(
    urls: Sequence[str],
    dest: Path,
    *,
    session: requests.Session,
    expected_bytes: int | None = None,
    max_workers: int = 4,
    progress: bool = True,
    timeout: tuple[float, float] = (5.0, 60.0),
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
    on_bytes: Callable[[int, int | None], None] | None = None,
    verify: Callable[[list[tuple[str, Path]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Download the files of a job into ``dest``, a few at a time.

    Parameters
    ----------
    urls
        The file URLs the job listed (nothing else is fetched).
    dest
        Target folder (created).
    session
        HTTP session (the files are public URLs; no key is sent).
    expected_bytes
        The job's ``numBytes``; the sum of the file sizes must match it.
    max_workers
        Parallel downloads.
    progress
        Show a ``tqdm.auto`` bytes bar.
    on_bytes
        Called with (bytes done, bytes expected) as data arrives.
    verify
        Called with ``(name, path)`` of every file once the sizes add up, before any file
        gets its final name; it raises (:class:`IncompleteExport`) to refuse the set, for
        example when the sessions in the files are fewer than the job announced.

    Returns
    -------
    list of dict
        ``{"url", "name", "size"}`` per file, in the order of ``urls``.

    Raises
    ------
    FilesExpired
        A file answered 404 (the 24 h retention passed).
    IncompleteExport
        The total does not match ``expected_bytes`` even after asking each file for more
        (the partial files are kept), or ``verify`` refused the set.
    InvalidAnswer
        File names that collide.
    DownloadError
        A file stayed incomplete.
    """
    from tqdm.auto import tqdm

    names = file_names(urls)
    dest.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    done = [0]
    cancelled = threading.Event()
    with tqdm(
        total=expected_bytes,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Downloading export files",
        disable=not progress,
    ) as bar:

        def advance(n: int) -> None:
            with lock:
                done[0] += n
                bar.update(n)
                if on_bytes is not None:
                    on_bytes(done[0], expected_bytes)

        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            futures = [
                pool.submit(
                    _download_one,
                    url,
                    dest / name,
                    session=session,
                    timeout=timeout,
                    attempts=attempts,
                    sleep=sleep,
                    advance=advance,
                    cancelled=cancelled,
                )
                for url, name in zip(urls, names, strict=True)
            ]
            finished, _ = wait_futures(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in finished):
                cancelled.set()  # stop the others early; their .part files stay for a resume
            errors = [e for e in (f.exception() for f in futures) if e is not None]
            if errors:
                # an expired file explains everything else: report that first
                causes = [e for e in errors if not isinstance(e, _Cancelled)] or errors
                raise next((e for e in causes if isinstance(e, FilesExpired)), causes[0])
            sizes = [f.result() for f in futures]

        sizes, confirmed = _confirm_sizes(
            urls,
            [dest / n for n in names],
            sizes,
            expected_bytes,
            session=session,
            timeout=timeout,
            advance=advance,
            attempts=attempts,
            sleep=sleep,
        )
    if not confirmed:
        # only a total checked against numBytes can be refused: expected_bytes is set
        raise IncompleteExport(_short_set(names, sizes, int(expected_bytes or 0)))
    if verify is not None:
        verify([(n, _current(dest / n)) for n in names])
    for name in names:
        part = dest / (name + PART)
        if part.exists():
            os.replace(part, dest / name)  # the whole set checks out: final names
    return [{"url": u, "name": n, "size": s} for u, n, s in zip(urls, names, sizes, strict=True)]
