"""The shareable HTML report: execute the report notebook with parameters, render it to HTML.

``render_report`` runs the report template (``leanplum_notebook/templates/report.ipynb``, a
copy of ``notebooks/report.ipynb``) with papermill in a fresh kernel, converts the executed
notebook with nbconvert (code hidden, charts embedded as ``data:`` URIs) and writes one
self-contained HTML file.

Credentials reach the kernel through environment variables (``LEANPLUM_APP_ID``,
``LEANPLUM_EXPORT_KEY``, ``LEANPLUM_API_URL``, ``LEANPLUM_CACHE_DIR``), never as notebook
parameters, so they are not written into the executed notebook. With no credentials at all,
the kernel's ``connect()`` starts the bundled simulator. Before anything is written, the HTML
is scanned for the export key and any S3 secret; if one is found the report is refused.

The command line (``leanplum-notebook report``) is ``add_arguments``/``run`` below.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanplum_notebook.dates import PACIFIC, format_day, parse_day
from leanplum_notebook.errors import LeanplumError, ReportError, ValidationError
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.ui.console import say, warn

if TYPE_CHECKING:
    from leanplum_notebook.settings import Settings
    from leanplum_notebook.sources.connect import Connection

logger = get_logger(__name__)

#: Default number of days in a report, and how many days before today it ends.
DEFAULT_DAYS = 28
DEFAULT_LAG_DAYS = 2

# Environment variables that may hold secrets the report must never contain.
_SECRET_ENV = ("LEANPLUM_EXPORT_KEY", "LEANPLUM_S3_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
# Secrets shorter than this are not scanned for: they would match by chance.
_MIN_SECRET_LEN = 6


def template_path() -> Path:
    """Return the path of the report template notebook shipped inside the package.

    Returns
    -------
    Path
        ``leanplum_notebook/templates/report.ipynb`` where the package is installed.
    """
    return Path(str(resources.files("leanplum_notebook") / "templates" / "report.ipynb"))


def default_range(today: date | None = None) -> tuple[str, str]:
    """Return the default report range: 28 Pacific days ending two days before today.

    Parameters
    ----------
    today : date, optional
        Today's Pacific date; default the current one.

    Returns
    -------
    tuple of str
        ``(start, end)`` as ``YYYYmmdd`` text.
    """
    if today is None:
        today = datetime.now(PACIFIC).date()
    end = today - timedelta(days=DEFAULT_LAG_DAYS)
    start = end - timedelta(days=DEFAULT_DAYS - 1)
    return start.strftime("%Y%m%d"), end.strftime("%Y%m%d")


def _day_text(value: str | date | None, name: str) -> str | None:
    """Normalise a Pacific day to ``YYYYmmdd`` text, or raise ValidationError naming ``name``."""
    if value is None:
        return None
    return format_day(parse_day(value, name))


def _credentials_env(
    settings: Settings | None, *, simulated: bool = False, feed: Any = None
) -> dict[str, str]:
    """Environment variables that hand ``settings`` (or a feed) to the report kernel."""
    if feed is not None:
        return {"LEANPLUM_FEED_URL": feed.url, "LEANPLUM_CACHE_DIR": str(feed.cache_root)}
    if settings is None:
        return {}
    env = {
        "LEANPLUM_NOTEBOOK_SIMULATED": "1" if simulated else "0",
        "LEANPLUM_APP_ID": settings.app_id,
        "LEANPLUM_EXPORT_KEY": settings.export_key,
        "LEANPLUM_API_URL": settings.api_url,
    }
    cache_dir = getattr(settings, "cache_dir", None)
    if cache_dir:
        env["LEANPLUM_CACHE_DIR"] = str(cache_dir)
    return env


def find_secrets(text: str, secrets: Iterable[str]) -> list[str]:
    """Return which of ``secrets`` occur in ``text`` (as-is, URL-quoted or HTML-escaped).

    Parameters
    ----------
    text : str
        The document to scan.
    secrets : iterable of str
        Values that must not appear. Empty and very short values are ignored.

    Returns
    -------
    list of str
        The secrets found (callers report *that* one was found, never its value).
    """
    import html
    from urllib.parse import quote, quote_plus

    found = []
    for secret in secrets:
        if not secret or len(secret) < _MIN_SECRET_LEN:
            continue
        forms = {secret, html.escape(secret), quote(secret, safe=""), quote_plus(secret)}
        if any(form in text for form in forms):
            found.append(secret)
    return found


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, "***")
    return text


def _kernel_manager(kernel_name: str, extra_env: Mapping[str, str]) -> Any:
    """A kernel manager whose kernel gets ``extra_env`` on top of this process's environment."""
    from jupyter_client.manager import AsyncKernelManager

    class _EnvKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            # Popen's env for the kernel: the credentials never enter the notebook itself.
            env = dict(kw.pop("env", None) or os.environ)
            env.update(extra_env)
            # The kernel process's own log lines (not cell output, which comes over ZMQ) would
            # only clutter the terminal of whoever renders the report.
            kw.setdefault("stdout", subprocess.DEVNULL)
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super().start_kernel(env=env, **kw)

    return _EnvKernelManager(kernel_name=kernel_name)


def _to_html(notebook_path: Path, title: str) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook_path, as_version=4)
    # Widget state is only meaningful live; an HTML report would pull a widget renderer from a CDN.
    nb.metadata.pop("widgets", None)
    # nbconvert logs through the running traitlets application (a kernel's, when this runs in
    # a notebook); give it our own logger, where one expected warning is dropped: charts are
    # matplotlib PNGs without alt text, and nbconvert would warn about each of them.
    log = get_logger(f"{__name__}.nbconvert")
    quiet = _DropMessages("Alternative text is missing")
    log.addFilter(quiet)
    try:
        exporter = HTMLExporter(
            template_name="lab",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            exclude_anchor_links=True,
            embed_images=True,
            log=log,
        )
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    finally:
        log.removeFilter(quiet)
    return _with_layout(_drop_scripts(_alt_texts(body, chart_names(nb))))


#: The report's page: one centred column, and every chart as wide as the column (nbconvert
#: leaves the text full width and each image at its pixel size, flush left: an 810 px strip
#: in a 1400 px window). The charts are drawn at twice their size (``retina`` in the
#: template), so scaled to the column they stay sharp.
REPORT_CSS = """
body.jp-Notebook { max-width: 1080px; margin: 0 auto; box-sizing: border-box; }
.jp-RenderedImage img { width: 100%; height: auto; }
"""


def _with_layout(body: str) -> str:
    style = f'<style id="leanplum-report-layout">{REPORT_CSS}</style>'
    head_end = body.find("</head>")
    if head_end < 0:
        return style + body
    return body[:head_end] + style + body[head_end:]


_NO_ALT = 'alt="No description has been provided for this image"'


def chart_names(nb: Any) -> list[str]:
    """A description of each image output, in order: the heading of its section."""
    names: list[str] = []
    heading = "chart"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.findall(r"^#+\s*(.+)$", cell.source, flags=re.M)
            heading = found[-1].strip() if found else heading
            continue
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                names.append(f"Chart: {heading}")
    return names


def _alt_texts(body: str, names: list[str]) -> str:
    """nbconvert's placeholder alt text replaced by each chart's section, in order."""
    parts = body.split(_NO_ALT)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        name = names[i] if i < len(names) else "Chart"
        out.append(f'alt="{html.escape(name, quote=True)}"{part}')
    return "".join(out)


class _DropMessages(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.I | re.S)


def _drop_scripts(body: str) -> str:
    """Remove every ``<script>`` (require.js, MathJax, a mermaid module from a CDN).

    The report is static text, tables and embedded images: it needs no script, and without
    them it is self-contained, renders the same offline and sends no request when opened.
    """
    return _SCRIPT.sub("", body)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_report(
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    out: str | os.PathLike[str] = "report.html",
    format: str = "json",
    title: str | None = None,
    connection: Connection | None = None,
    settings: Settings | None = None,
    secrets: Iterable[str] = (),
    timeout: float = 600,
    template: str | os.PathLike[str] | None = None,
    kernel_name: str = "python3",
    executed_notebook: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute the report notebook for ``start``..``end`` and write it as self-contained HTML.

    Parameters
    ----------
    start, end : str or date, optional
        First and last Pacific day (``YYYYmmdd`` or ``date``). Default: the 28 days ending two
        days before today (Pacific).
    out : path, default "report.html"
        Where to write the HTML. Written atomically; nothing is written when rendering fails.
    format : {"json", "csv"}
        Export format the notebook fetches.
    title : str, optional
        Report title (first heading and the HTML ``<title>``).
    connection : Connection, optional
        Where the data comes from (``connect()``); its settings are handed to the kernel
        through environment variables. Default: the kernel resolves credentials from this
        process's environment, or runs the bundled simulator when there are none.
    settings : Settings, optional
        Alternative to ``connection``.
    secrets : iterable of str
        More values that must not appear in the report (the export key, the S3 secret and
        ``LEANPLUM_EXPORT_KEY``/``LEANPLUM_S3_ACCESS_KEY``/``AWS_SECRET_ACCESS_KEY`` from the
        environment are always checked).
    timeout : float, default 600
        Seconds each notebook cell may run.
    template : path, optional
        Another parameterized notebook to execute (needs a cell tagged ``parameters``).
    kernel_name : str, default "python3"
        Jupyter kernel to run the notebook in.
    executed_notebook : path, optional
        Also keep the executed notebook there (it holds no credential either).

    Returns
    -------
    Path
        The HTML file written.

    Raises
    ------
    ValidationError
        A bad day or format, before any kernel starts.
    ReportError
        A cell failed (the message names the cell and the error, secrets masked), or a secret
        was found in the output.
    """
    start_text = _day_text(start, "start")
    end_text = _day_text(end, "end")
    if start_text is None and end_text is not None:
        raise ValidationError("start", "is required when end is given")
    if start_text is None:
        start_text, end_text = default_range()
    if end_text is None:
        end_text = start_text
    if end_text < start_text:
        raise ValidationError("end", f"{end_text} is before start {start_text}")
    if format not in ("json", "csv"):
        raise ValidationError("format", f"expected 'json' or 'csv', got {format!r}")
    if connection is not None:
        if settings is not None:
            raise ValidationError("settings", "give either connection or settings, not both")
        settings = connection.settings
    if title is None:
        title = f"Leanplum report {start_text}-{end_text}"
    out_path = Path(out).expanduser()
    if out_path.is_dir():
        raise ValidationError("out", f"expected a file path, got a folder: {out_path}")

    simulated = connection is not None and connection.simulated
    feed = connection.feed if connection is not None else None
    extra_env = _credentials_env(settings, simulated=simulated, feed=feed)
    all_secrets = [s for s in secrets if s]
    all_secrets += [os.environ.get(name, "") for name in _SECRET_ENV]
    all_secrets += [extra_env.get("LEANPLUM_EXPORT_KEY", "")]
    all_secrets = [s for s in dict.fromkeys(all_secrets) if s]

    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(template) if template is not None else template_path()
    parameters = {"start": start_text, "end": end_text, "format": format, "title": title}
    logger.info("rendering report %s..%s from %s", start_text, end_text, source.name)
    with tempfile.TemporaryDirectory(prefix="leanplum-report-") as tmp:
        executed = Path(tmp) / "report.ipynb"
        try:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name=kernel_name,
                language="python",
                progress_bar=False,
                cwd=tmp,
                km=_kernel_manager(kernel_name, extra_env),
                execution_timeout=timeout,
            )
        except PapermillExecutionError as exc:
            message = _redact(f"{exc.ename}: {exc.evalue}", all_secrets)
            raise ReportError(
                f"the report notebook failed in cell {exc.exec_count}: {message}"
            ) from None
        except Exception as exc:  # kernel died, cell timeout...: say so without a traceback wall
            message = _redact(f"{type(exc).__name__}: {exc}", all_secrets)
            raise ReportError(f"the report notebook could not run: {message}") from None

        notebook_text = executed.read_text(encoding="utf-8")
        html_text = _to_html(executed, title)
        leaked = find_secrets(notebook_text, all_secrets) + find_secrets(html_text, all_secrets)
        if leaked:
            raise ReportError(
                "the rendered report contains a secret (export key or S3 secret key); "
                "refusing to write it"
            )
        if executed_notebook is not None:
            _write_atomic(Path(executed_notebook), notebook_text)
    _write_atomic(out_path, html_text)
    logger.info("report written to %s (%d bytes)", out_path, len(html_text))
    return out_path


# --- command line: leanplum-notebook report ----------------------------------------------


def quiet_jupyter_logs() -> None:
    """CLI only: hide jupyter_client's shutdown chatter (e.g. "Could not destroy zmq context")."""
    logging.getLogger("traitlets").setLevel(logging.ERROR)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` subcommand's options to ``parser``."""
    parser.add_argument("--start", help="first Pacific day, YYYYmmdd (default: 28 days back)")
    parser.add_argument("--end", help="last Pacific day, YYYYmmdd (default: 2 days ago)")
    parser.add_argument("--out", default="report.html", help="HTML file to write")
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.add_argument("--title", help="report title")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds each notebook cell may run"
    )
    parser.epilog = (
        "Credentials come from LEANPLUM_APP_ID / LEANPLUM_EXPORT_KEY (or a .env file); with "
        "none, the report runs on the bundled simulator."
    )


def run(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook report``; print where the report is. Returns the exit code."""
    quiet_jupyter_logs()
    try:
        path = render_report(
            args.start,
            args.end,
            out=args.out,
            format=args.format,
            title=args.title,
            timeout=args.timeout,
        )
    except LeanplumError as exc:
        warn(f"error: {exc}")
        return 1
    say(f"report written to {path.resolve()}")
    return 0
