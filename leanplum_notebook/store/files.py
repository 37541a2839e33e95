"""Small file helpers shared by the cache, the ledger and the downloads (I/O at call time)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leanplum_notebook.errors import CacheError, ValidationError

__all__ = ["atomic_write_json", "file_lock", "read_json", "safe_name"]

_SAFE_RE = re.compile(r"[^A-Za-z0-9._-]")
#: Longest path component made by :func:`safe_name` (file systems stop at 255 bytes; room is
#: left for the ``.part`` and temporary-file suffixes)
MAX_NAME = 200


def safe_name(name: str, *, what: str = "file name") -> str:
    """A single path component made of ``[A-Za-z0-9._-]``; refuse anything that escapes."""
    if not isinstance(name, str):
        raise ValidationError(what, f"expected text, got {type(name).__name__}")
    cleaned = _SAFE_RE.sub("_", name)
    if cleaned in ("", ".", "..") or cleaned.startswith("."):
        raise ValidationError(what, f"{name!r} is not usable as a file name")
    if len(cleaned) > MAX_NAME:
        raise ValidationError(
            what, f"{name[:40]!r}... is {len(name)} characters; at most {MAX_NAME} are usable"
        )
    return cleaned


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path, *, default: Any = None) -> Any:
    """Read a JSON file; ``default`` when it does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise CacheError(f"cannot read {path}: {exc}") from None


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold ``<path>.lock`` (safe across processes); CacheError when it cannot be taken."""
    import filelock

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path) + ".lock", timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CacheError(
            f"{path}.lock is held by another process for more than {timeout:g} s"
        ) from None
    try:
        yield
    finally:
        lock.release()
