"""Fixtures for the notebook suites: a simulator with a known export key, and notebook runs.

The notebooks run in real Jupyter kernels (nbclient). ``known_key_env`` is the environment a
kernel gets to use a simulator started here with ``KNOWN_KEY`` as its export key and one shared
cache folder, so the notebooks after the first reuse the cached days instead of re-exporting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KNOWN_KEY = "exp_NotebookSuiteKnownKey_5e4d3c2b1a09"
CREDENTIAL_VARS = (
    "LEANPLUM_APP_ID",
    "LEANPLUM_EXPORT_KEY",
    "LEANPLUM_API_URL",
    "LEANPLUM_CACHE_DIR",
    "LEANPLUM_NOTEBOOK_SIMULATED",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any Leanplum credential, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    env["MPLBACKEND"] = "Agg"
    env.update(extra or {})
    return env


def execute_notebook(
    path: Path, workdir: Path, env: Mapping[str, str], timeout: float = 300
) -> Any:
    """Execute ``path`` top to bottom in a fresh python3 kernel run in ``workdir`` with ``env``.

    Returns the executed notebook (also written to ``workdir``); raises on the first failing
    cell (nbclient's CellExecutionError names the cell and the error).
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=dict(env), cwd=str(workdir))
    try:
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3")
        client.execute()
    finally:
        if km.is_alive():
            km.shutdown_kernel(now=True)
    nbformat.write(nb, workdir / path.name)
    return nb


@pytest.fixture(scope="session")
def known_key_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A simulator (real clock) whose app's export key is ``KNOWN_KEY``; its kernel env."""
    from leanplum_notebook.simulator import AppConfig, DataConfig, Simulator

    data = DataConfig(seed=3, initial_users=500, new_users_per_day=20.0, history_days=70)
    app = AppConfig(
        app_id="app_" + "N" * 43, export_key=KNOWN_KEY, app_number=4242424242424242, data=data
    )
    cache = tmp_path_factory.mktemp("nb-cache")
    with Simulator(seed=3, apps=[app], data=data, pending_seconds=0.05, running_seconds=0.1) as sim:
        env = {
            "LEANPLUM_APP_ID": app.app_id,
            "LEANPLUM_EXPORT_KEY": KNOWN_KEY,
            "LEANPLUM_API_URL": sim.api_url,
            "LEANPLUM_CACHE_DIR": str(cache),
        }
        yield {"sim": sim, "env": env, "cache": cache, "app": app, "key": KNOWN_KEY}


@pytest.fixture(scope="session")
def run_notebook() -> Any:
    """``run_notebook(path, workdir, env, timeout=300)``: see :func:`execute_notebook`."""
    return execute_notebook


@pytest.fixture(scope="session")
def no_credentials_env() -> Any:
    """``no_credentials_env(extra=None)``: see :func:`clean_env`."""
    return clean_env


@pytest.fixture(scope="session")
def cli_report(known_key_sim: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report rendered once by ``leanplum-notebook report`` (a subprocess)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leanplum_notebook.cli",
            "report",
            "--out",
            str(out),
            "--title",
            "Suite report",
        ],
        env=clean_env(known_key_sim["env"]),
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"report written to {out.resolve()}" in proc.stdout
    assert KNOWN_KEY not in proc.stdout + proc.stderr
    return out
