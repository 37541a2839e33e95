"""The redaction layer on its own: the forms it masks, log records, nested answers."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from leanplum_notebook import redaction

SECRET = "exp_Unit/Test+Secret=0123456789abcdef"


@pytest.fixture(autouse=True)
def remembered() -> None:
    redaction.remember(SECRET)


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        SECRET.replace("/", "\\/"),
    ],
)
def test_every_form_of_a_remembered_secret_is_masked(form: str) -> None:
    assert redaction.redact(f"before {form} after") == "before *** after"


def test_short_and_empty_values_are_not_remembered() -> None:
    redaction.remember("", None, "abc")
    assert redaction.redact("abc and a cab") == "abc and a cab"


def test_nested_values_are_masked_and_not_changed_in_place() -> None:
    answer = {"failure": [{"error": f"denied {SECRET}", SECRET: 1}], "n": 3, "ok": True}
    clean = redaction.redact_value(answer)
    assert clean == {"failure": [{"error": "denied ***", "***": 1}], "n": 3, "ok": True}
    assert SECRET in answer["failure"][0]["error"]  # type: ignore[index]


def test_records_are_masked_in_message_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = redaction.get_logger("leanplum_notebook.test_redaction")
    assert redaction.get_logger("leanplum_notebook.test_redaction").filters == log.filters
    assert len(log.filters) == 1  # attached once however often it is asked for
    caplog.set_level(logging.DEBUG)
    log.debug("query %s", {"clientKey": SECRET})
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        log.exception("failed with %r", SECRET)
    assert SECRET not in caplog.text
    assert "query {'clientKey': '***'}" in caplog.text
    assert "boom ***" in caplog.text and "failed with '***'" in caplog.text
