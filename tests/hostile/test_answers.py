"""Whatever the API answers, no exception outside the error tree reaches the caller.

Every field of ``getExportResults`` and of ``exportData`` is given values of the wrong type,
numbers past every limit and nesting deeper than the parser's stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook import errors
from leanplum_notebook.store.cache import WindowCache
from leanplum_notebook.store.quota import QuotaLedger

DEEP = "[" * 60_000 + "]" * 60_000
BAD_VALUES = {
    "null": "null",
    "true": "true",
    "a number": "12.5",
    "1e400": "1e400",
    "-1": "-1",
    "2**64": str(2**64),
    "text": '"many"',
    "a list": "[1, [2]]",
    "an object": '{"url": 3}',
    "deep nesting": DEEP,
    "NaN": "NaN",
}
FIELDS = ["state", "jobId", "files", "numSessions", "numBytes", "s3CopyStatus", "success"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", sorted(BAD_VALUES))
def test_wrong_types_at_every_field_of_get_export_results(
    wire: Any, kit: Any, tmp_path: Path, field: str, value: str
) -> None:
    wire.results = [(200, wire.finished(**{field: kit.Raw(BAD_VALUES[value])}))]
    cache = tmp_path / "cache"
    try:
        result = wire.fetch(cache)
    except errors.LeanplumError as exc:
        assert kit.KEY not in str(exc)
        complete = WindowCache(cache, kit.APP, "json", "all").complete_days()
        assert complete == {}, f"{field}={value}: complete after {exc!r}"
    else:  # only a value that means what the true one means may pass
        assert len(result.load().sessions) == 61


def test_a_count_of_1e400_is_a_named_error_not_an_overflow(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    for name in ("numSessions", "numBytes"):
        wire.results = [(200, wire.finished(**{name: kit.Raw("1e400")}))]
        with pytest.raises(errors.InvalidAnswer, match=f"{name} is inf"):
            wire.fetch(tmp_path / name)


@pytest.mark.parametrize(
    "item",
    [
        ["files", "[1]"],
        ["files", '"https://h/x"'],
        ["files", '[{"url": null}]'],
        ["state", "[]"],
        ["jobId", "7"],
    ],
)
def test_misshapen_fields_are_named(wire: Any, kit: Any, tmp_path: Path, item: list[str]) -> None:
    name, raw = item
    wire.results = [(200, wire.finished(**{name: kit.Raw(raw)}))]
    with pytest.raises(errors.InvalidAnswer, match=name):
        wire.fetch(tmp_path / "cache")


@pytest.mark.parametrize("status", [200, 400])
def test_a_deeply_nested_status_answer_is_an_api_error(
    wire: Any, tmp_path: Path, status: int
) -> None:
    wire.results = [(status, DEEP.encode())]
    with pytest.raises(errors.ApiError, match="nested too deeply"):
        wire.fetch(tmp_path / "cache", timeout=2)


def test_a_deeply_nested_5xx_is_retried_until_the_deadline(
    wire: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wire.results = [(500, DEEP.encode())]
    with pytest.raises(errors.ExportTimeout):
        wire.fetch(tmp_path / "cache", timeout=60)
    assert "nested too deeply" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        DEEP.encode(),
        b"not json at all",
        b'{"response": []}',
        b'{"response": [{"success": true}]}',
        b'{"response": [{"success": true, "jobId": 7}]}',
        b'{"response": [{"success": true, "jobId": ["x"]}]}',
    ],
)
def test_an_unreadable_accepted_export_is_counted_as_maybe_spent(
    wire: Any, kit: Any, tmp_path: Path, body: bytes
) -> None:
    """exportData answered 200 with something unreadable: the server took the request, so
    the export may exist and be counted; it is neither retried nor given back."""
    wire.export = (200, body)
    cache = tmp_path / "cache"
    with pytest.raises(errors.ExportOutcomeUnknown, match="may have been"):
        wire.fetch(cache)
    assert wire.exports == 1  # not retried
    ledger = QuotaLedger(cache / kit.APP, clock=lambda: kit.NOW).status(kit.APP)
    assert ledger.used == 1


@pytest.mark.parametrize(
    "answer",
    [
        (400, {"success": False, "error": {"message": "Missing startDate"}}),
        (200, {"success": False, "error": {"message": "You cannot export data older"}}),
        (200, {"success": True, "error": {"message": "skipped"}}),
    ],
)
def test_a_readable_refusal_gives_the_export_back(
    wire: Any, kit: Any, tmp_path: Path, answer: tuple[int, dict[str, Any]]
) -> None:
    status, item = answer
    wire.export = (status, json.dumps({"response": [item]}).encode())
    cache = tmp_path / "cache"
    with pytest.raises(errors.ApiError) as caught:
        wire.fetch(cache)
    assert not isinstance(caught.value, errors.ExportOutcomeUnknown)
    assert QuotaLedger(cache / kit.APP, clock=lambda: kit.NOW).status(kit.APP).used == 0
