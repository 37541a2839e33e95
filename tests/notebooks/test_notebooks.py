"""Every notebook runs top to bottom in a real kernel against the simulator; none leaks the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RUNNABLE = [
    "quickstart.ipynb",
    "engagement_and_retention.ipynb",
    "funnels_revenue_experiments.ipynb",
]

pytestmark = pytest.mark.notebooks


def _outputs(nb: Any, kind: str) -> list[Any]:
    return [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == kind
    ]


def _images(nb: Any) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    )


def test_notebooks_committed_clean_and_generated() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "notebooks" / "make_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"notebooks differ from make_notebooks.py:\n{proc.stdout}"
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted([*RUNNABLE, "report.ipynb"])
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert "widgets" not in nb.metadata, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
    # The template the installed package uses is the same notebook as notebooks/report.ipynb.
    from leanplum_notebook.ui.report import template_path

    assert template_path().read_bytes() == (NOTEBOOKS / "report.ipynb").read_bytes()
    report = nbformat.read(NOTEBOOKS / "report.ipynb", as_version=4)
    tagged = [c for c in report.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("start", "end", "format", "title"):
        assert f"\n{name} = " in "\n" + tagged[0].source


@pytest.fixture(scope="module")
def executed(
    known_key_sim: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    run_notebook: Any,
    no_credentials_env: Any,
) -> Any:
    """``executed(name)``: the notebook run once (cached) against the known-key simulator."""
    workdir = tmp_path_factory.mktemp("executed")
    done: dict[str, Any] = {}

    def get(name: str) -> tuple[Any, Path]:
        if name not in done:
            env = no_credentials_env(known_key_sim["env"])
            done[name] = run_notebook(NOTEBOOKS / name, workdir, env)
        return done[name], workdir / name

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNNABLE)
def test_notebook_runs_top_to_bottom(name: str, executed: Any) -> None:
    nb, _ = executed(name)
    assert _outputs(nb, "error") == []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    charts = {
        "quickstart.ipynb": 1,
        "engagement_and_retention.ipynb": 7,
        "funnels_revenue_experiments.ipynb": 4,
    }
    assert _images(nb) >= charts[name]
    text = json.dumps(nb)
    assert "Connection(api" in text  # credentials came from the environment (the known-key sim)
    if name == "quickstart.ipynb":
        assert "exports spent by the second fetch: 0" in text
        assert "exports spent: 0, sessions:" in text  # the form reused the cached days
        assert "connect().fetch(" not in text  # the env path prints lpn.fetch, not connect()
        assert "lpn.fetch(" in text
    if name == "funnels_revenue_experiments.ipynb":
        assert "lift_low" in text and "open_rate" in text
    if name == "engagement_and_retention.ipynb":
        # the summary of session lengths says its unit, the chart's (issue 16)
        assert "session length (minutes)" in text


@pytest.mark.slow
def test_no_key_in_any_executed_notebook(executed: Any, known_key_sim: dict[str, Any]) -> None:
    for name in RUNNABLE:
        _, path = executed(name)
        text = path.read_text(encoding="utf-8")
        assert known_key_sim["key"] not in text, name
    # and nowhere in the cache the notebooks filled
    for file in known_key_sim["cache"].rglob("*"):
        if file.is_file() and file.stat().st_size < 50_000_000:
            assert known_key_sim["key"].encode() not in file.read_bytes(), file


# With no credentials at all (the kernel starts its own simulator) every notebook runs in
# tests/notebooks/test_binder.py, in a fresh environment installed the way Binder does.
