"""The HTML report: rendered by the CLI against the simulator, self-contained, no secret in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from leanplum_notebook.connect import Connection
from leanplum_notebook.errors import ValidationError
from leanplum_notebook.ui.report import ReportError, find_secrets, render_report
from leanplum_notebook.settings import Settings

pytestmark = pytest.mark.notebooks

HEADINGS = [
    "Active users",
    "New users",
    "Session lengths",
    "Retention",
    "Top events",
    "Funnel",
    "Revenue",
    "Experiments",
    "Platforms and countries",
    "About this data",
]


@pytest.mark.slow
def test_cli_report_is_self_contained_html_with_charts(
    cli_report: Path, known_key_sim: dict[str, Any]
) -> None:
    text = cli_report.read_text(encoding="utf-8")
    assert known_key_sim["key"] not in text
    assert re.search(r"<h1[^>]*>Suite report<", text)
    for heading in HEADINGS:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", text), heading
    # Charts are embedded images, at least one per chart cell of the template.
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', text)) >= 12
    # No code (inputs are excluded), no script, nothing fetched from elsewhere.
    assert "conn.fetch(" not in text and "import leanplum_notebook" not in text
    assert "<script" not in text
    assert not re.search(r'(src|href)="https?://', text)
    # The headline table and the data notes are there, with real numbers.
    assert re.search(r"<td[^>]*>sessions</td>\s*<td[^>]*>[\d,]+</td>", text)
    assert "exports spent for this report" in text
    # No cell failed.
    assert "Traceback" not in text


def test_report_charts_are_described_and_its_figures_explained(cli_report: Path) -> None:
    """nbconvert left every chart's alt text "No description has been provided", and the
    footer's count of records read disagreed with the summary without saying why."""
    text = cli_report.read_text(encoding="utf-8")
    alts = re.findall(r'<img[^>]+alt="([^"]*)"', text)
    assert alts and all(a.startswith("Chart: ") for a in alts), alts[:3]
    assert "No description has been provided" not in text
    assert "Chart: Platforms and countries" in alts
    summary = int(re.search(r"<td[^>]*>sessions</td>\s*<td[^>]*>([\d,]+)</td>", text)[1].replace(",", ""))
    footer = re.search(r"the ([\d,]+) sessions above\s+and ([\d,]+) offline records", text)
    assert footer is not None and int(footer[1].replace(",", "")) == summary


def _template(tmp_path: Path, body: str) -> Path:
    nb = new_notebook()
    params = new_code_cell('start = None\nend = None\nformat = "json"\ntitle = "t"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "template.ipynb"
    nbformat.write(nb, path)
    return path


def _conn(known_key_sim: dict[str, Any], cache: Path) -> Connection:
    env = known_key_sim["env"]
    settings = Settings(
        app_id=env["LEANPLUM_APP_ID"],
        export_key=env["LEANPLUM_EXPORT_KEY"],
        api_url=env["LEANPLUM_API_URL"],
        cache_dir=cache,
    )
    return Connection(settings)


@pytest.mark.slow
def test_report_that_would_show_the_key_is_refused(
    tmp_path: Path, known_key_sim: dict[str, Any]
) -> None:
    template = _template(tmp_path, 'import os\nprint("key is", os.environ["LEANPLUM_EXPORT_KEY"])')
    out = tmp_path / "leak.html"
    with pytest.raises(ReportError, match="contains a secret") as info:
        render_report(
            "20260601",
            out=out,
            template=template,
            connection=_conn(known_key_sim, tmp_path / "cache"),
        )
    assert known_key_sim["key"] not in str(info.value)
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == [] and list(tmp_path.glob(".leak*")) == []


@pytest.mark.slow
def test_failing_cell_reported_in_plain_words_with_the_key_masked(
    tmp_path: Path, known_key_sim: dict[str, Any]
) -> None:
    template = _template(
        tmp_path, 'import os\nraise ValueError("bad " + os.environ["LEANPLUM_EXPORT_KEY"])'
    )
    out = tmp_path / "fail.html"
    with pytest.raises(ReportError, match=r"failed in cell \d+: ValueError: bad \*\*\*") as info:
        render_report(
            "20260601",
            out=out,
            template=template,
            connection=_conn(known_key_sim, tmp_path / "cache"),
        )
    assert known_key_sim["key"] not in str(info.value)
    assert not out.exists()


def test_bad_arguments_refused_before_any_kernel(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(ValidationError, match="start"):
        render_report("2026-06-31", out=out)
    with pytest.raises(ValidationError, match="end"):
        render_report("20260610", "20260601", out=out)
    with pytest.raises(ValidationError, match="format"):
        render_report("20260601", format="xml", out=out)
    with pytest.raises(ValidationError, match="out"):
        render_report("20260601", out=tmp_path)
    assert not out.exists()


def test_find_secrets_sees_escaped_and_quoted_forms() -> None:
    secret = "exp_a&b/c+d=e"
    assert find_secrets(f"x {secret} y", [secret]) == [secret]
    assert find_secrets("x exp_a&amp;b/c+d=e y", [secret]) == [secret]
    assert find_secrets("clientKey=exp_a%26b%2Fc%2Bd%3De", [secret]) == [secret]
    assert find_secrets("nothing here", [secret, "", "abc"]) == []
