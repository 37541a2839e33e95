"""The notebooks as a person meets them: JupyterLab on 127.0.0.1, in headless Chromium.

JupyterLab (pip-installed, token off) serves copies of the notebooks; playwright opens each
one at 1400x900, runs all cells, and checks what is on screen: no error output, no console
error from the page, and in the quickstart the export form with its preview, an Export
click that shows the job's progress in words and ends with "Done". A failing test saves a
screenshot next to the test's temporary folder and names it in the message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]

# Messages JupyterLab itself logs in a sandbox with no network (not from the notebooks)
BENIGN = ("Failed to load resource", "favicon", "news", "update", "translations", "lsp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    pytest.importorskip("jupyterlab")
    root = tmp_path_factory.mktemp("lab")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEANPLUM_")}
    settings = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no "get notified about Jupyter news?" toast over the cells (and no network call)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env.update(
        JUPYTER_CONFIG_DIR=str(root / ".jupyter"),
        JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(root / ".lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
        LEANPLUM_CACHE_DIR=str(root / ".cache"),
    )
    log = open(root / "lab.log", "w")  # noqa: SIM115  (closed below)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"]
    command += ["--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password="]
    command += [f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"]
    command += ["--LabApp.news_url=None", "--ServerApp.disable_check_xsrf=True", "--allow-root"]
    server = subprocess.Popen(
        command,
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError((root / "lab.log").read_text()[-3000:])
        yield base, root
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1400, "height": 900}


@pytest.fixture
def page(lab: tuple[str, Path], tmp_path: Path, viewport: dict[str, int]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport=viewport)
        pg = context.new_page()
        pg.console_errors = []  # type: ignore[attr-defined]
        pg.on(
            "console",
            lambda m: pg.console_errors.append(m.text) if m.type == "error" else None,  # type: ignore[attr-defined]
        )
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def _shot(page: Any, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)


def _run_all(page: Any, base: str, name: str, timeout: float = 240.0) -> None:
    # a workspace of its own (reset): no tab of an earlier test comes back
    workspace = name.removesuffix(".ipynb").replace("_", "-")
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset", wait_until="load")
    page.wait_for_function(
        """name => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return w && w.context && w.context.path === name && kernel
                && kernel.status === 'idle';
        }""",
        arg=name,
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # every code cell has an execution count (none left at [*] or blank)
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout * 1000,
    )


def _errors(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[data-mime-type='application/vnd.jupyter.error'], .jp-OutputArea-output.jp-mod-error",
        "nodes => nodes.map(n => n.textContent.slice(0, 500))",
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_in_jupyterlab_without_errors(
    lab: tuple[str, Path], page: Any, tmp_path: Path, name: str
) -> None:
    base, _ = lab
    try:
        _run_all(page, base, name)
        errors = _errors(page)
        console = [m for m in page.console_errors if not any(b in m for b in BENIGN)]
        assert errors == [] and console == [], (errors, console)
        if name != "report.ipynb":
            images = page.eval_on_selector_all(
                ".jp-OutputArea-output img", "nodes => nodes.filter(n => n.naturalWidth > 0).length"
            )
            assert images > 0  # the charts are drawn
    except BaseException as exc:
        raise AssertionError(f"{name}: {exc}; screenshot: {_shot(page, tmp_path, name)}") from None


def test_the_form_exports_and_says_what_it_is_doing(
    lab: tuple[str, Path], page: Any, tmp_path: Path
) -> None:
    base, _ = lab
    try:
        _run_all(page, base, "quickstart.ipynb")
        form = page.locator(".leanplum-export-form").last
        form.wait_for(timeout=30_000)
        assert "day(s):" in form.inner_text()  # the live preview of the plan
        _shot(page, tmp_path, "form-before")
        # an earlier start makes days to export: the click spends an export (on the simulator)
        earlier = (datetime.now(ZoneInfo("America/Los_Angeles")) - timedelta(days=30)).date()
        start = form.locator("input[type='date']").first
        start.fill(earlier.isoformat())
        start.dispatch_event("change")
        page.wait_for_timeout(500)
        seen: list[str] = []
        form.locator("button:has-text('Export')").click()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = form.inner_text()
            seen.append(text)
            if "Done:" in text or "Export failed" in text:
                break
            if "Waiting for Leanplum" in text and not (tmp_path / "form-during.png").exists():
                _shot(page, tmp_path, "form-during")
            page.wait_for_timeout(100)
        _shot(page, tmp_path, "form-after")
        final = seen[-1]
        assert "Done:" in final, final
        during = [t for t in seen if "Waiting for Leanplum" in t or "Downloading:" in t]
        assert during, seen[-3:]
        assert json.dumps(seen).count("bytes (") == 0
    except BaseException as exc:
        raise AssertionError(f"{exc}; screenshot: {_shot(page, tmp_path, 'form')}") from None


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768}])
def test_the_form_fits_a_1024_px_window_with_the_file_browser_open(
    lab: tuple[str, Path], page: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    """At 1024 px with the file browser open, the Format box sat off-screen: every field,
    button and the progress row of the form must be inside the notebook's visible area."""
    base, _ = lab
    try:
        _run_all(page, base, "quickstart.ipynb")
        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        page.wait_for_timeout(500)
        form = page.locator(".leanplum-export-form").last
        form.scroll_into_view_if_needed()
        boxes = page.evaluate(
            """() => {
                const browser = document.getElementById('filebrowser');
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                const form = [...document.querySelectorAll('.leanplum-export-form')].pop();
                const area = panel.querySelector('.jp-WindowedPanel-outer, .jp-Notebook')
                    .getBoundingClientRect();
                const parts = [...form.querySelectorAll(
                    'input, select, button, .widget-label, .widget-html, .progress')]
                    .filter(e => e.getBoundingClientRect().width > 0)
                    .map(e => {
                        const r = e.getBoundingClientRect();
                        return {what: (e.textContent || e.value || e.tagName).slice(0, 40),
                                left: r.left, right: r.right};
                    });
                return {browserOpen: !!browser && browser.getBoundingClientRect().width > 100,
                        left: area.left, right: Math.min(area.right, window.innerWidth),
                        parts};
            }"""
        )
        assert boxes["browserOpen"], "the file browser is not open"
        assert len(boxes["parts"]) > 10, boxes
        outside = [
            p for p in boxes["parts"]
            if p["left"] < boxes["left"] - 1 or p["right"] > boxes["right"] + 1
        ]
        assert outside == [], (outside, boxes["left"], boxes["right"])
        formats = [p for p in boxes["parts"] if p["what"].strip().lower().startswith("json")]
        assert formats, "the Format box is not on screen"
        _shot(page, tmp_path, "form-1024")
    except BaseException as exc:
        raise AssertionError(f"{exc}; screenshot: {_shot(page, tmp_path, 'form-1024')}") from None
