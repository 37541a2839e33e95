"""No entry is ever complete with fewer (or other) bytes or sessions than the job announced.

Each case is a storage host or an API that lies in one way; the cache must stay
incomplete, the error must say what a re-run does, and the next fetch must repair it
(again from the job's files while they exist, else by a new export) and end with exactly
the golden export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook import errors
from leanplum_notebook.store.cache import WindowCache

FIRST_FILE = (
    "/leanplum_export/export-4727756026281984-c95e54af-5df3-4fc0-a62e-fa7601520b92-output-0"
)


def cache_of(cache: Path, kit: Any) -> WindowCache:
    return WindowCache(cache, kit.APP, "json", "all")


def assert_nothing_complete(cache: Path, kit: Any) -> None:
    wc = cache_of(cache, kit)
    assert wc.complete_days() == {}
    entries = wc.entries()
    assert entries and not any(e.complete for e in entries)
    for e in entries:  # no file under a final name: those are for a complete set only
        folder = wc.files_dir(e.job_id)
        finals = [p for p in folder.glob("*")] if folder.exists() else []
        assert all(p.name.endswith(".part") for p in finals), finals


def assert_golden(result: Any, wire: Any, kit: Any) -> None:
    """The fetch ended with every file byte for byte as served, and 61 sessions load."""
    got = {p.name: p.read_bytes() for p in result.files}
    want = {path.rsplit("/", 1)[-1]: data for path, data in wire.data.items()}
    assert got == want
    tables = result.load()
    assert len(tables.sessions) == 61
    assert tables.report.mismatches == []


def test_a_short_file_the_host_calls_whole_is_not_complete_and_the_next_fetch_repairs_it(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    """The host serves half of a file and answers the Range for the rest with 416 */half."""
    full = wire.data[FIRST_FILE]
    wire.files[FIRST_FILE] = kit.serve(full[: len(full) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(errors.IncompleteExport) as caught:
        wire.fetch(cache)
    text = str(caught.value)
    assert f"numBytes={sum(len(d) for d in wire.data.values()):,}" in text
    assert f"{FIRST_FILE.rsplit('/', 1)[-1]}: {len(full) // 2:,} bytes" in text
    assert "downloads the job's files again (no export)" in text
    assert_nothing_complete(cache, kit)
    with pytest.raises(errors.LeanplumError):
        wire.fetch(cache, export_key=None, app_id=kit.APP, api_url="http://127.0.0.1:9/api")
    wire.files[FIRST_FILE] = kit.serve(full)  # the host is healthy again
    result = wire.fetch(cache)
    assert wire.exports == 1 and result.exports_spent == 0  # repaired from the job's files
    assert_golden(result, wire, kit)


def test_a_second_download_that_does_not_add_up_sets_the_job_aside_and_re_exports(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    full = wire.data[FIRST_FILE]
    wire.files[FIRST_FILE] = kit.serve(full[:1000])
    cache = tmp_path / "cache"
    with pytest.raises(errors.IncompleteExport, match="downloads the job's files again"):
        wire.fetch(cache)
    with pytest.raises(errors.IncompleteExport, match=r"exports them again \(1 export\)"):
        wire.fetch(cache)
    assert [e.state for e in cache_of(cache, kit).entries()] == ["REJECTED"]
    assert wire.exports == 1
    wire.files[FIRST_FILE] = kit.serve(full)
    result = wire.fetch(cache)
    assert wire.exports == 2 and result.exports_spent == 1
    assert_golden(result, wire, kit)


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"numBytes": 10**6}, "so a file was cut short"),
        ({"numBytes": 1000}, "more than announced"),
        ({"numSessions": 62}, "numSessions=62 but its 5 file"),
        ({"numSessions": 40}, "hold 61 session"),
        ({"numSessions": 0}, "numSessions=0"),
    ],
)
def test_counts_that_lie_leave_the_entry_incomplete(
    wire: Any, kit: Any, tmp_path: Path, over: dict[str, int], why: str
) -> None:
    wire.results = [(200, wire.finished(**over))]
    cache = tmp_path / "cache"
    with pytest.raises(errors.IncompleteExport, match=why):
        wire.fetch(cache)
    assert_nothing_complete(cache, kit)
    wire.results = []  # the next answer is true: the next fetch repairs without an export
    result = wire.fetch(cache)
    assert wire.exports == 1
    assert_golden(result, wire, kit)


def test_sessions_that_do_not_add_up_are_downloaded_again_not_resumed(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    """Their bytes were all there, so only a whole new download can differ."""
    wire.results = [(200, wire.finished(numSessions=99))]
    cache = tmp_path / "cache"
    with pytest.raises(errors.IncompleteExport):
        wire.fetch(cache)
    before = dict(wire.hits)
    wire.results = []
    wire.fetch(cache)
    again = {p: wire.hits[p] - before[p] for p in before}
    assert all(n >= 1 for n in again.values())
    ranges = [r for r in wire.requests if r["path"].startswith("/leanplum_export")]
    assert len(ranges) >= 10


@pytest.mark.parametrize("announced", [{"numSessions": 40}, {"numBytes": 5000}])
def test_a_finished_job_with_no_files_that_announces_data_is_an_error(
    wire: Any, kit: Any, tmp_path: Path, announced: dict[str, int]
) -> None:
    wire.listing = []
    wire.results = [(200, wire.finished(**{"numSessions": 0, "numBytes": 0, **announced}))]
    cache = tmp_path / "cache"
    with pytest.raises(errors.InvalidAnswer, match=r"no files.*exports them again \(1 export\)"):
        wire.fetch(cache)
    assert_nothing_complete(cache, kit)
    wire.listing, wire.results = None, []
    result = wire.fetch(cache)
    assert wire.exports == 2
    assert_golden(result, wire, kit)


def test_a_finished_job_with_no_files_and_no_data_is_an_empty_range(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    wire.listing = []
    wire.results = [(200, wire.finished(numSessions=0, numBytes=0))]
    result = wire.fetch(tmp_path / "cache")
    assert result.files == [] and len(result.load().sessions) == 0


def _odd_answers(A: Any) -> dict[str, Any]:
    """Answers to the Range request that resumes a cut transfer, each odd in its own way
    (``A`` is the suite's Answer class)."""

    def start_of(rng: str | None) -> int:
        return int(rng.split("=")[1].rstrip("-")) if rng else 0

    def whole(data: bytes, rng: str | None) -> Any:
        return A(200, data)  # Range ignored: start over

    def wrong_start(data: bytes, rng: str | None) -> Any:
        return A(206, data, {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})

    def star_total(data: bytes, rng: str | None) -> Any:
        start = start_of(rng)
        return A(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/*"})

    def no_content_range_416(data: bytes, rng: str | None) -> Any:
        return A(416) if rng else A(200, data)

    def lying_total(data: bytes, rng: str | None) -> Any:
        start = start_of(rng)
        return A(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{start}"})

    def garbage(data: bytes, rng: str | None) -> Any:
        return A(206, data[:10], {"Content-Range": "bytes lots-of/bytes"}) if rng else A(200, data)

    def huge(data: bytes, rng: str | None) -> Any:
        big = f"bytes {10**30}-{10**31}/{10**32}"
        return A(206, b"x", {"Content-Range": big}) if rng else A(200, data)

    def short_416_total(data: bytes, rng: str | None) -> Any:
        return A(416, headers={"Content-Range": "bytes */5"}) if rng else A(200, data)

    def more_than_asked(data: bytes, rng: str | None) -> Any:
        start = start_of(rng)
        return A(
            206,
            data[start:] + b"junk",
            {"Content-Range": f"bytes {start}-{len(data)}/{len(data) + 4}"},
        )

    def bad_length(data: bytes, rng: str | None) -> Any:
        return A(200, data, {"Content-Length": "lots"})

    def negative_length(data: bytes, rng: str | None) -> Any:
        return A(200, data, {"Content-Length": "-5"})

    return {
        "200 with Content-Length: lots": bad_length,
        "200 with Content-Length: -5": negative_length,
        "200 ignoring Range": whole,
        "206 from another start": wrong_start,
        "206 of unknown total": star_total,
        "416 without Content-Range": no_content_range_416,
        "206 whose total is the start": lying_total,
        "206 with a garbage Content-Range": garbage,
        "206 with a huge Content-Range": huge,
        "416 with a smaller total": short_416_total,
        "206 with bytes past the end": more_than_asked,
    }


ODD = sorted(_odd_answers(object))


@pytest.mark.parametrize("kind", ODD)
def test_odd_content_range_answers_never_give_a_wrong_complete_file(
    wire: Any, kit: Any, tmp_path: Path, kind: str
) -> None:
    """The first answer drops the connection halfway; the resume meets an odd answer, then
    (on later tries) the same odd host: the fetch ends complete and exact, or in error."""
    from dataclasses import replace

    full = wire.data[FIRST_FILE]
    odd = _odd_answers(kit.Answer)[kind]

    def answer(rng: str | None, n: int) -> Any:
        if n == 0:
            return replace(kit.Answer(200, full[: len(full) // 2]), length=len(full))
        return odd(full, rng)

    wire.files[FIRST_FILE] = answer
    cache = tmp_path / "cache"
    try:
        result = wire.fetch(cache)
    except errors.LeanplumError:
        assert_nothing_complete(cache, kit)
    else:
        assert_golden(result, wire, kit)


@pytest.mark.parametrize(
    "listing",
    [
        ["/a/export-1-x-output-0", "/b/export-1-x-output-0"],
        ["/a/export-1-x-output-0", "/a/export-1-x-output-0"],
        ["/a/export-1-x-output-0", "/a/Export-1-X-output-0"],
        ["/a/export-1-x-output-0.part", "/a/export-1-x-output-0"],
    ],
)
def test_listings_with_colliding_names_are_refused_before_any_download(
    wire: Any, kit: Any, tmp_path: Path, listing: list[str]
) -> None:
    data = next(iter(wire.data.values()))
    wire.data.clear()
    for path in listing:
        wire.put(path, data)
    wire.listing = listing
    cache = tmp_path / "cache"
    with pytest.raises(errors.InvalidAnswer, match="listing is refused"):
        wire.fetch(cache)
    assert not [r for r in wire.requests if not r["path"].startswith("/api")]
    assert_nothing_complete(cache, kit)


@pytest.mark.parametrize("announced", [60, 61])
def test_csv_sessions_are_counted_in_the_sessions_files(
    wire: Any, kit: Any, tmp_path: Path, announced: int
) -> None:
    wire.data.clear()
    wire.files.clear()
    for p in sorted((kit.GOLDEN.parent / "csv").iterdir()):
        wire.put(f"/leanplum_export/{p.name}", p.read_bytes())
    wire.results = [(200, wire.finished(numSessions=announced))]
    cache = tmp_path / "cache"
    if announced != 61:
        with pytest.raises(errors.IncompleteExport, match="hold 61 session"):
            wire.fetch(cache, format="csv")
        return
    result = wire.fetch(cache, format="csv")
    assert len(result.files) == 7 and len(result.load().sessions) == 61
