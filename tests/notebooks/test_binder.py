"""Binder, without Docker: install binder/requirements.txt into a fresh virtual environment the
way repo2docker does (from the repository root, then ``binder/postBuild``), then run the
notebooks there with no credentials, so they use the bundled simulator of the installed
(non-editable) package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

RUNNER = textwrap.dedent(
    """\
    import sys
    import time
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    workdir = Path(sys.argv[1])
    started = time.monotonic()
    for name in sys.argv[2:]:
        nb = nbformat.read(name, as_version=4)
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        )
        client.execute()
        nbformat.write(nb, workdir / Path(name).name)
        print("ran", Path(name).name, round(time.monotonic() - started, 1), flush=True)
        started = time.monotonic()
    """
)


def test_binder_config_files() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    requirements = [
        line.strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == [".[report]"]
    assert os.access(BINDER / "postBuild", os.X_OK)


@pytest.mark.timeout(900)
def test_binder_install_runs_every_notebook_without_credentials(
    tmp_path: Path, no_credentials_env: Any
) -> None:
    venv = tmp_path / "venv"
    bindir = venv / "bin"
    env = no_credentials_env()
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def sh(*cmd: str, cwd: Path = ROOT, timeout: float = 600) -> str:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    t0 = time.monotonic()
    sh(sys.executable, "-m", "venv", str(venv))
    # What repo2docker runs, from the repository root:
    sh(str(bindir / "pip"), "install", "--quiet", "-r", "binder/requirements.txt")
    sh(str(BINDER / "postBuild"))
    installed = time.monotonic() - t0
    # The package comes from the environment (a real install), not from this checkout.
    where = sh(
        str(bindir / "python"),
        "-c",
        "import leanplum_notebook; print(leanplum_notebook.__file__)",
        cwd=tmp_path,
    )
    assert str(venv) in where

    workdir = tmp_path / "run"
    workdir.mkdir()
    runner = tmp_path / "run_notebooks.py"
    runner.write_text(RUNNER)
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    t0 = time.monotonic()
    out = sh(
        str(bindir / "python"), str(runner), str(workdir), *notebooks, cwd=workdir, timeout=900
    )
    ran = time.monotonic() - t0
    assert out.count("ran ") == len(notebooks) == 4
    import nbformat

    for path in workdir.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "error"
        ]
        assert errors == [], path.name
        assert "bundled simulator" in path.read_text() or "Connection(simulator" in path.read_text()
    print(f"binder install {installed:.0f} s, notebooks {ran:.0f} s\n{out}")
