"""Reliability helpers: fetch() pointed at a faulty simulator, and the cache invariants.

The invariants every reliability test checks after every fetch, failed or not:

* no file under a cache ``files/`` folder has a final name (not ``.part``) unless its bytes
  are exactly the server's file (sha256 against the simulator's own copy);
* an entry marked ``complete`` lists files that exist with their recorded sizes, the sizes add
  up to ``numBytes`` and, for JSON, the lines to ``numSessions``;
* ``days.json`` only points at complete entries;
* the exports the simulator accepted equal the exports the quota ledger counts (nothing spent
  that the ledger does not know about, nothing counted twice).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Harness:
    """A simulator plus the keyword arguments that point ``fetch`` at it.

    ``clock`` is the simulator's (frozen) clock, so "today", the provisional window and the
    quota day agree on both sides; ``sleep`` sleeps a little for real (jobs run on real
    time) and moves the simulator's clock by the full amount, so deadlines pass quickly.
    """

    def __init__(self, sim: Any, cache_dir: Path) -> None:
        self.sim = sim
        self.cache_dir = cache_dir
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        time.sleep(min(seconds, 0.02))
        self.sim.clock.advance(seconds)

    def kw(self, **over: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "app_id": self.sim.app_id,
            "export_key": self.sim.export_key,
            "api_url": self.sim.api_url,
            "cache_dir": self.cache_dir,
            "clock": self.sim.clock.now,
            "sleep": self.sleep,
            "progress": False,
            "timeout": 120.0,
        }
        out.update(over)
        return out

    @property
    def accepted(self) -> int:
        """Exports the simulator accepted (quota it spent), all days."""
        return int(sum(self.sim.stats.exports_accepted.values()))

    @property
    def ledger(self) -> int:
        """Exports the local quota ledger counts, all days."""
        return ledger_total(self.cache_dir)

    def check(self) -> None:
        """Assert every cache invariant (see the module docstring)."""
        check_cache(self.cache_dir, self.sim)
        assert self.accepted == self.ledger, (self.accepted, self.ledger)


def ledger_total(cache_dir: Path) -> int:
    """Sum of ``used`` over every day of every app's ``quota.json``."""
    total = 0
    for path in cache_dir.rglob("quota.json"):
        data = json.loads(path.read_text())
        total += sum(int(day.get("used", 0)) for day in data.get("days", {}).values())
    return total


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def server_files(sims: Any) -> dict[str, str]:
    """sha256 of every export file the simulator(s) produced, by file name."""
    if not isinstance(sims, (list, tuple)):
        sims = [sims]
    out: dict[str, str] = {}
    for sim in sims:
        if sim.workdir is not None:
            for path in sim.workdir.rglob("*"):
                if path.is_file():
                    out[path.name] = _sha(path)
    return out


def check_cache(cache_dir: Path, sims: Any) -> dict[str, int]:
    """Assert the cache invariants; return counts (complete entries, files, part files)."""
    remote = server_files(sims)
    counts = {"complete": 0, "incomplete": 0, "files": 0, "part_files": 0}
    for files_dir in cache_dir.rglob("files"):
        if not files_dir.is_dir() or files_dir.parent.parent.name != "entries":
            continue
        for path in files_dir.iterdir():
            if path.name.endswith(".part"):
                counts["part_files"] += 1
                continue
            counts["files"] += 1
            assert path.name in remote, f"{path} has no counterpart on the server"
            assert _sha(path) == remote[path.name], f"{path} looks complete but is not"
    for entry_json in cache_dir.rglob("entry.json"):
        entry = json.loads(entry_json.read_text())
        if not entry["complete"]:
            counts["incomplete"] += 1
            continue
        counts["complete"] += 1
        files_dir = entry_json.parent / "files"
        sizes = []
        lines = 0
        for f in entry["files"]:
            path = files_dir / f["name"]
            assert path.is_file(), f"complete entry lists a missing file {path}"
            assert path.stat().st_size == f["size"], path
            sizes.append(f["size"])
            if "-output-" in f["name"]:
                lines += sum(1 for line in path.read_bytes().splitlines() if line.strip())
        assert sum(sizes) == (entry["numBytes"] or 0), entry_json
        if entry["request"].get("exportFormat", "json") == "json":
            assert lines == (entry["numSessions"] or 0), entry_json
    for days_json in cache_dir.rglob("days.json"):
        for day, rec in json.loads(days_json.read_text()).items():
            entry_json = days_json.parent / "entries" / rec["job_id"] / "entry.json"
            assert entry_json.is_file(), f"days.json: {day} points at a missing entry"
            assert json.loads(entry_json.read_text())["complete"], f"{day}: incomplete entry"
    stray = [p for p in cache_dir.rglob("*.tmp")]
    assert not stray, f"temporary files left behind: {stray}"
    return counts


@pytest.fixture
def harness(make_simulator: Callable[..., Any], tmp_path: Path) -> Callable[..., Harness]:
    """``harness(**simulator_kwargs)`` -> a Harness over a fresh simulator."""

    def make(**kwargs: Any) -> Harness:
        return Harness(make_simulator(**kwargs), tmp_path / "cache")

    return make


class Helpers:
    """The plain helper functions, for test modules (conftest is not importable by name)."""

    check_cache = staticmethod(check_cache)
    ledger_total = staticmethod(ledger_total)
    server_files = staticmethod(server_files)
    Harness = Harness


@pytest.fixture
def rel() -> type[Helpers]:
    """The helper functions of this folder's conftest."""
    return Helpers
