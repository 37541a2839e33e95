"""``ExportForm``: a Jupyter form for ``fetch()``, with a live plan and quota preview.

The form is a thin shell: every number it shows comes from ``plan()`` and ``quota()``, and
Submit calls ``fetch()`` in a background thread (the kernel stays responsive) and then loads
the tables. What it never does: echo the export key, keep it in a widget trait (the masked
field is emptied as soon as its value is read; the key lives only in a private attribute), or
show a traceback wall (errors are shown as the toolkit's plain-words messages).

Drive it from code (tests, or a notebook re-run without clicking)::

    form = ExportForm(connect())
    form.start.value, form.end.value = date(2026, 6, 1), date(2026, 6, 7)
    form.submit_button.click()
    form.wait()
    form.export, form.tables

Requires ``ipywidgets`` (a core dependency); importing this module without it raises an
ImportError saying how to install it.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

try:
    import ipywidgets as w
except ImportError as exc:  # pragma: no cover - ipywidgets is a core dependency
    raise ImportError(
        "ExportForm needs ipywidgets: pip install ipywidgets (or pip install leanplum-notebook)"
    ) from exc

from leanplum_notebook.dates import PACIFIC, WINDOW_DAYS, format_day, pacific_day, parse_day
from leanplum_notebook.errors import ConfigError, LeanplumError
from leanplum_notebook.redaction import get_logger, redact, remember
from leanplum_notebook.settings import Settings

if TYPE_CHECKING:
    from leanplum_notebook.sources.connect import Connection
    from leanplum_notebook.sources.export import Export, Plan
    from leanplum_notebook.store.quota import QuotaStatus

__all__ = [
    "ExportForm",
    "FormValues",
    "ProgressTimer",
    "duration_text",
    "equivalent_call",
    "plan_summary",
]

logger = get_logger(__name__)

_KEY_PLACEHOLDER = "export key (hidden)"
_KEY_RECEIVED = "key received (hidden); type again to replace"


@dataclass(frozen=True)
class FormValues:
    """The form's inputs, validated: the arguments of one ``fetch()`` call (no secrets)."""

    start: date
    end: date
    format: str = "json"
    start_time: int | None = None
    end_time: int | None = None
    refresh: bool = False
    s3_bucket: str | None = None
    s3_access_id: str | None = None
    s3_prefix: str | None = None
    compress: bool = False
    callback_url: str | None = None

    def fetch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``fetch()`` beyond start/end (secrets added by the caller)."""
        kw: dict[str, Any] = {"format": self.format}
        if self.start_time is not None:
            kw["start_time"] = self.start_time
        if self.end_time is not None:
            kw["end_time"] = self.end_time
        if self.refresh:
            kw["refresh"] = True
        if self.s3_bucket:
            kw["s3_bucket"] = self.s3_bucket
            kw["s3_access_id"] = self.s3_access_id
            kw["s3_prefix"] = self.s3_prefix
            kw["compress"] = self.compress
        if self.callback_url:
            kw["callback_url"] = self.callback_url
        return kw

    def plan_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``plan()`` (the subset of ``fetch`` it knows)."""
        kw: dict[str, Any] = {"format": self.format, "refresh": self.refresh}
        if self.start_time is not None:
            kw["start_time"] = self.start_time
        if self.end_time is not None:
            kw["end_time"] = self.end_time
        return kw


def parse_time(text: str, name: str) -> int | None:
    """Parse a startTime/endTime field: empty, Unix seconds, or an ISO datetime (naive = UTC).

    Raises
    ------
    ValueError
        Naming the field, in plain words.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name}: expected Unix seconds or a date-time like 2026-06-01T08:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def equivalent_call(values: FormValues, *, simulated: bool = False) -> str:
    """The Python code that does what the form did, with no secret in it.

    Parameters
    ----------
    values : FormValues
        The submitted inputs.
    simulated : bool
        True when the form ran against the simulator started by ``connect()``: the call is
        then made on that connection, since ``lpn.fetch`` would look for real credentials.

    Returns
    -------
    str
        E.g. ``export = lpn.fetch("20260601", "20260607", format="json")``.
    """
    args = [f'"{format_day(values.start)}"', f'"{format_day(values.end)}"']
    args.append(f'format="{values.format}"')
    if values.start_time is not None:
        args.append(f"start_time={values.start_time}")
    if values.end_time is not None:
        args.append(f"end_time={values.end_time}")
    if values.refresh:
        args.append("refresh=True")
    if values.s3_bucket:
        args.append(f"s3_bucket={values.s3_bucket!r}")
        args.append(f"s3_access_id={values.s3_access_id!r}")
        args.append('s3_access_key=os.environ["LEANPLUM_S3_ACCESS_KEY"]')
        if values.s3_prefix:
            args.append(f"s3_prefix={values.s3_prefix!r}")
        if values.compress:
            args.append("compress=True")
    if values.callback_url:
        args.append(f"callback_url={values.callback_url!r}")
    joined = ", ".join(args)
    head = "import os\n" if values.s3_bucket else ""
    if simulated:
        return (
            f"{head}from leanplum_notebook.connect import connect\n"
            f"export = connect().fetch({joined})\n"
            "tables = export.load()"
        )
    return (
        f"{head}import leanplum_notebook as lpn\n"
        f"export = lpn.fetch({joined})  # key from LEANPLUM_EXPORT_KEY\n"
        "tables = export.load()"
    )


def plan_summary(plan: Plan) -> dict[str, int]:
    """Count a plan's days by status and its exports.

    Returns
    -------
    dict
        ``final``, ``provisional``, ``missing``, ``refresh`` (days) and ``exports``.
    """
    counts = {"final": 0, "provisional": 0, "missing": 0, "refresh": 0}
    for day in plan.days:
        counts[day.status] = counts.get(day.status, 0) + 1
    counts["exports"] = plan.exports_needed
    return counts


def _quota_text(status: QuotaStatus) -> str:
    resets = status.resets_at.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M %Z")
    return f"{status.remaining} of {status.limit} exports left today, resets at {resets}"


#: Label width shared by the form's fields, so their inputs line up.
_STYLE = {"description_width": "9em"}


#: Checkboxes take the width of their label (the default cuts long labels short).
_CHECKBOX: dict[str, Any] = {"indent": False, "style": {"description_width": "initial"}}


def _layout() -> w.Layout:
    # one Layout per widget: a shared one would tie their sizes together
    return w.Layout(width="auto")


class ExportForm:
    """A form that exports Leanplum data with ``fetch()``: dates, format, advanced options,
    a live plan/quota preview, Submit, progress, and the result.

    Parameters
    ----------
    connection : Connection, optional
        Where to export from (``connect()``). Default: credentials from the environment
        (``LEANPLUM_APP_ID``/``LEANPLUM_EXPORT_KEY`` or ``.env``); what is missing is asked for
        in the form, the key in a masked field.
    start, end : date or str, optional
        Initial Pacific days, ``date`` or ``YYYYmmdd`` (default: the 7 days ending yesterday).
    format : {"json", "csv"}
    load : bool, default True
        Load the tables after the export (``form.tables``).
    clock : callable, optional
        Unix-seconds clock (default the connection's).

    Attributes
    ----------
    export : Export or None
        The last successful export.
    tables : Tables or None
        Its tables (``export.load()``), when ``load``.
    error : Exception or None
        The last failure (its message is shown in the form).
    widget : ipywidgets.VBox
        The whole form; displaying the ExportForm displays it.
    """

    def __init__(
        self,
        connection: Connection | None = None,
        *,
        start: date | str | None = None,
        end: date | str | None = None,
        format: str = "json",
        load: bool = True,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._connection = connection
        self._clock: Callable[[], float] = clock or (
            connection.clock if connection is not None else time.time
        )
        self._settings: Settings | None = connection.settings if connection else None
        self._simulated = bool(connection is not None and connection.simulated)
        self._load = load
        self._export_key: str | None = None  # typed key: private, never in a widget trait
        self._s3_secret: str | None = None
        self._thread: threading.Thread | None = None
        self._busy = False  # set on submit, cleared when the run ends (before the last redraw)
        self._lock = threading.Lock()
        self._timer = ProgressTimer(time.monotonic)
        self.export: Export | None = None
        self.tables: Any = None
        self.error: BaseException | None = None
        self.values: FormValues | None = None
        self.last_plan: Plan | None = None
        self.last_quota: QuotaStatus | None = None

        if self._settings is None:
            try:
                self._settings = Settings.resolve()
            except ConfigError:
                self._settings = None
        partial = self._partial_settings() if self._settings is None else {}

        today = pacific_day(self._clock())
        first_day = today - timedelta(days=WINDOW_DAYS)
        end_day = parse_day(end, "end") if end is not None else today - timedelta(days=1)
        start_day = parse_day(start, "start") if start is not None else end_day - timedelta(days=6)
        credentials = self._build_credentials(partial)
        self._build_days(start_day, end_day, first_day, today, format)
        self._build_advanced()
        self._build_actions()
        self.widget = w.VBox(
            [
                self.header,
                *credentials,
                # wraps in a narrow notebook (a file browser open at 1024 px)
                w.HBox([self.start, self.end, self.format], layout=w.Layout(flex_flow="row wrap")),
                self.window,
                self.advanced,
                self.preview,
                w.HBox([self.submit_button, self.progress, self.status]),
                self.error_box,
                self.call_box,
            ]
        )
        self.widget.add_class("leanplum-export-form")  # for styles and browser tests
        for field in (
            self.app_id_field,
            self.start,
            self.end,
            self.format,
            self.start_time,
            self.end_time,
            self.refresh,
            self.s3_bucket,
            self.s3_access_id,
            self.s3_prefix,
            self.compress,
            self.callback_url,
        ):
            field.observe(self._on_change, names="value")
        self.refresh_preview()

    # --- building the form -----------------------------------------------------------------

    def _build_credentials(self, partial: dict[str, str]) -> list[w.Widget]:
        """The app id and key fields; only those the environment did not provide are shown."""
        self.app_id_field = w.Text(
            value=partial.get("app_id", ""),
            description="App id",
            placeholder="app_...",
            style=_STYLE,
            layout=_layout(),
        )
        self.key_field = w.Password(
            description="Export key",
            placeholder=_KEY_PLACEHOLDER,
            continuous_update=False,
            style=_STYLE,
            layout=_layout(),
        )
        self.key_field.observe(self._take_export_key, names="value")
        credentials: list[w.Widget] = []
        if self._settings is None:
            if not partial.get("app_id"):
                credentials.append(self.app_id_field)
            credentials.append(self.key_field)

        return credentials

    def _build_days(
        self, start_day: date, end_day: date, first_day: date, today: date, format: str
    ) -> None:
        # no min/max on the pickers: a DatePicker silently moves a value outside them, while
        # the preview says exactly what is wrong with a day (too old and not cached, future)
        self.start = w.DatePicker(value=start_day, description="Start (Pacific)", style=_STYLE)
        self.end = w.DatePicker(value=end_day, description="End (Pacific)", style=_STYLE)
        self.format = w.Dropdown(
            options=[("JSON", "json"), ("CSV", "csv")],
            value=format,
            description="Format",
            style=_STYLE,
        )
        self.window = w.HTML(
            f"<small>Exportable: {first_day:%Y-%m-%d} to {today:%Y-%m-%d} (Pacific days; "
            f"the API refuses data older than {WINDOW_DAYS} days).</small>"
        )

    def _build_advanced(self) -> None:
        """The optional exportData arguments, folded away in an accordion."""
        self.start_time = w.Text(
            description="startTime",
            placeholder="Unix seconds or 2026-06-01T08:00Z",
            style=_STYLE,
            layout=_layout(),
        )
        self.end_time = w.Text(
            description="endTime",
            placeholder="Unix seconds or 2026-06-02T08:00Z",
            style=_STYLE,
            layout=_layout(),
        )
        self.refresh = w.Checkbox(description="Re-export provisional days (refresh)", **_CHECKBOX)
        self.s3_bucket = w.Text(description="S3 bucket", style=_STYLE, layout=_layout())
        self.s3_access_id = w.Text(description="S3 access id", style=_STYLE, layout=_layout())
        self.s3_access_key = w.Password(
            description="S3 secret key",
            placeholder="secret (hidden)",
            continuous_update=False,
            style=_STYLE,
            layout=_layout(),
        )
        self.s3_access_key.observe(self._take_s3_secret, names="value")
        self.s3_prefix = w.Text(
            description="S3 prefix", placeholder="dirname/", style=_STYLE, layout=_layout()
        )
        self.compress = w.Checkbox(description="gzip the S3 copy (compressData)", **_CHECKBOX)
        self.callback_url = w.Text(
            description="callbackUrl", placeholder="https://...", style=_STYLE, layout=_layout()
        )
        self.advanced = w.Accordion(
            children=[
                w.VBox(
                    [
                        self.start_time,
                        self.end_time,
                        self.refresh,
                        self.s3_bucket,
                        self.s3_access_id,
                        self.s3_access_key,
                        self.s3_prefix,
                        self.compress,
                        self.callback_url,
                    ]
                )
            ],
            selected_index=None,
        )
        self.advanced.set_title(0, "Advanced")

    def _build_actions(self) -> None:
        """Preview, the Export button, progress, status and the header."""
        self.preview = w.HTML()
        self.submit_button = w.Button(
            description="Export", button_style="primary", icon="download", tooltip="fetch()"
        )
        self.submit_button.on_click(self._on_submit)
        self.progress = w.IntProgress(value=0, min=0, max=100, description="", bar_style="")
        self.progress.layout.visibility = "hidden"
        self.status = w.HTML()
        self.error_box = w.HTML()
        self.call_box = w.HTML()

        source = "bundled simulator" if self._simulated else "Leanplum API"
        app = self._settings.app_id if self._settings else "(enter below)"
        self.header = w.HTML(
            f"<b>Leanplum export</b> &middot; {html.escape(source)} &middot; app "
            f"<code>{html.escape(app)}</code>"
        )

    # --- display ------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        app = self._settings.app_id if self._settings else None
        return f"ExportForm(app_id={app!r}, simulated={self._simulated}, running={self.running})"

    @property
    def children(self) -> list[w.Widget]:
        """Every widget of the form (for tests: none of their states holds a secret)."""
        out: list[w.Widget] = []
        stack: list[w.Widget] = [self.widget]
        while stack:
            widget = stack.pop()
            out.append(widget)
            stack.extend(getattr(widget, "children", ()) or ())
        return out

    # --- secrets: moved out of the widgets as soon as they arrive --------------------------

    def _take_export_key(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._export_key = change["new"]
            self.key_field.value = ""
            self.key_field.placeholder = _KEY_RECEIVED

    def _take_s3_secret(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._s3_secret = change["new"]
            self.s3_access_key.value = ""
            self.s3_access_key.placeholder = "secret received (hidden)"

    def _partial_settings(self) -> dict[str, str]:
        """What the environment gives when it does not give everything (the app id, say)."""
        try:
            s = Settings.resolve(require_key=False)
        except ConfigError:
            return {}
        return {"app_id": s.app_id, "api_url": s.api_url, "cache_dir": str(s.cache_dir)}

    def _current_settings(self, *, require_key: bool) -> Settings:
        if self._settings is not None:
            return self._settings
        app_id = self.app_id_field.value.strip()
        if not app_id:
            raise ConfigError("enter the app id (or set LEANPLUM_APP_ID)")
        if require_key and not self._export_key:
            raise ConfigError("enter the export key (or set LEANPLUM_EXPORT_KEY)")
        return Settings.resolve(
            app_id=app_id, export_key=self._export_key or None, require_key=require_key
        )

    # --- inputs and preview -------------------------------------------------------------

    def read_values(self) -> FormValues:
        """Validate the inputs and return them.

        Raises
        ------
        ValueError
            In plain words, naming the field.
        """
        start, end = self.start.value, self.end.value
        if start is None or end is None:
            raise ValueError("choose a start and an end day")
        if end < start:
            raise ValueError(f"the end day {end:%Y-%m-%d} is before the start day {start:%Y-%m-%d}")
        start_time = parse_time(self.start_time.value, "startTime")
        end_time = parse_time(self.end_time.value, "endTime")
        if start_time is not None and end_time is not None and end_time <= start_time:
            raise ValueError("endTime must be after startTime")
        bucket = self.s3_bucket.value.strip() or None
        if bucket and not (self.s3_access_id.value.strip() and self._s3_secret):
            raise ValueError("an S3 bucket needs the S3 access id and secret key")
        return FormValues(
            start=start,
            end=end,
            format=self.format.value,
            start_time=start_time,
            end_time=end_time,
            refresh=bool(self.refresh.value),
            s3_bucket=bucket,
            s3_access_id=self.s3_access_id.value.strip() or None,
            s3_prefix=self.s3_prefix.value.strip() or None,
            compress=bool(self.compress.value),
            callback_url=self.callback_url.value.strip() or None,
        )

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self.running:
            self._clear_result()  # what is shown must be about the values on screen
        self.refresh_preview()

    def _clear_result(self) -> None:
        """Forget the last run's message, call and bar (the export itself stays in
        ``form.export``)."""
        self.status.value = ""
        self.call_box.value = ""
        self.error_box.value = ""
        self.progress.value = 0
        self.progress.bar_style = ""
        self.progress.layout.visibility = "hidden"

    def refresh_preview(self) -> None:
        """Recompute the plan and the quota and show them (no request is made)."""
        from leanplum_notebook.sources.export import plan
        from leanplum_notebook.store.quota import quota

        self.last_plan = None
        self.last_quota = None
        try:
            values = self.read_values()
            settings = self._current_settings(require_key=False)
            self.last_plan = plan(
                values.start,
                values.end,
                settings=settings,
                clock=self._clock,
                **values.plan_kwargs(),
            )
            self.last_quota = quota(settings=settings, clock=self._clock)
        except (LeanplumError, ValueError) as exc:
            self.preview.value = f"<span style='color:#b00'>{html.escape(redact(str(exc)))}</span>"
            self.submit_button.disabled = True
            return
        counts = plan_summary(self.last_plan)
        ranges = ", ".join(f"{a:%Y%m%d}-{b:%Y%m%d}" for a, b in self.last_plan.exports) or "none"
        enough = counts["exports"] <= self.last_quota.remaining
        spend = f"<b>{counts['exports']}</b> export(s) to spend ({html.escape(ranges)})"
        if not enough:
            spend += " &mdash; <span style='color:#b00'>more than are left today</span>"
        self.preview.value = (
            "<div style='line-height:1.5'>"
            f"{len(self.last_plan.days)} day(s): "
            f"<b>{counts['final']}</b> cached final, "
            f"<b>{counts['provisional']}</b> cached provisional, "
            f"<b>{counts['missing'] + counts['refresh']}</b> to export "
            f"({counts['missing']} missing, {counts['refresh']} refreshed)<br>"
            f"{spend}<br>"
            f"{html.escape(_quota_text(self.last_quota))}</div>"
        )
        self.submit_button.disabled = self.running or not enough

    # --- running ------------------------------------------------------------------------

    @property
    def code(self) -> str | None:
        """The Python call equivalent to the last submitted export (no secret in it)."""
        if self.values is None:
            return None
        return equivalent_call(self.values, simulated=self._simulated)

    @property
    def running(self) -> bool:
        """True while an export runs in the background."""
        return self._busy

    def submit(self) -> None:
        """Start the export (what the button does)."""
        self._on_submit(self.submit_button)

    def _on_submit(self, _button: Any) -> None:
        with self._lock:
            if self.running:
                return
            self.error = None
            self.error_box.value = ""
            # Read the masked fields now as well, in case a front end synced without the observer.
            if self.key_field.value:
                self._take_export_key({"new": self.key_field.value})
            if self.s3_access_key.value:
                self._take_s3_secret({"new": self.s3_access_key.value})
            try:
                values = self.read_values()
                settings = self._current_settings(require_key=True)
            except (LeanplumError, ValueError) as exc:
                self._show_error(exc)
                return
            self.values = values
            self._busy = True
            self.submit_button.disabled = True
            self._clear_result()
            self.progress.layout.visibility = "visible"
            self.status.value = "Submitting&hellip;"
            self._timer = ProgressTimer(time.monotonic)
            self._thread = threading.Thread(
                target=self._run, args=(settings, values), name="leanplum-export-form", daemon=True
            )
            self._thread.start()

    def _run(self, settings: Settings, values: FormValues) -> None:
        from leanplum_notebook.sources.export import fetch

        kw = values.fetch_kwargs()
        if values.s3_bucket:
            kw["s3_access_key"] = self._s3_secret
        try:
            export = fetch(
                values.start,
                values.end,
                settings=settings,
                progress=False,
                on_progress=self._on_progress,
                clock=self._clock,
                **kw,
            )
            self.export = export
            if self._load:
                self.status.value = "Loading tables&hellip;"
                self.tables = export.load(progress=False)
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            self.status.value = html.escape(self._done_text(export))
            code = self.code or ""
            self.call_box.value = (
                f"<small>The same in Python:</small><pre style='margin:0'>{html.escape(code)}</pre>"
            )
        except BaseException as exc:
            self.progress.bar_style = "danger"
            self.status.value = "Failed"
            self._show_error(exc)
        finally:
            self._busy = False
            self.refresh_preview()

    def _done_text(self, export: Export) -> str:
        sessions = ""
        if self.tables is not None:
            sessions = f", {len(self.tables.sessions):,} sessions"
        return (
            f"Done: {len(export.days)} day(s), {export.exports_spent} export(s) spent, "
            f"{len(export.files)} file(s){sessions}"
        )

    def _on_progress(self, *args: Any, **kwargs: Any) -> None:
        """Progress from fetch: shown in the bar and the status line, never raising."""
        try:
            event = args[0] if args else kwargs
            text, done, total = self._timer.describe(event)
            if total:
                self.progress.max = max(int(total), 1)
                self.progress.value = min(int(done or 0), self.progress.max)
            if text:
                self.status.value = html.escape(text)
        except Exception:  # progress is cosmetic: it must never break the export
            logger.debug("progress update failed", exc_info=True)

    def _show_error(self, exc: BaseException) -> None:
        self.error = exc
        if isinstance(exc, (LeanplumError, ValueError)):
            message = str(exc)
        else:
            logger.error("export failed", exc_info=exc)
            message = f"unexpected error ({type(exc).__name__}): {exc}"
        remember(self._export_key, self._s3_secret, os.environ.get("LEANPLUM_EXPORT_KEY"))
        message = redact(message)
        self.error_box.value = (
            "<div style='color:#b00;border-left:3px solid #b00;padding-left:6px'>"
            f"Export failed: {html.escape(message)}</div>"
        )

    def wait(self, timeout: float | None = None) -> Export | None:
        """Wait for the running export (if any) to end; return ``form.export``.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; None waits until it ends.

        Raises
        ------
        TimeoutError
            When it is still running after ``timeout``.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the export is still running after {timeout} s")
        return self.export


def duration_text(seconds: float) -> str:
    """``"45 s"``, ``"1 min 20 s"``, ``"2 h 05 min"``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class ProgressTimer:
    """Turns fetch's progress events into words a person reads: how long Leanplum has been
    at the job and in which state, then the download in MB with its rate.

    Parameters
    ----------
    clock
        Monotonic seconds (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.job_started: float | None = None
        self.download_started: float | None = None

    def describe(self, event: Any) -> tuple[str, float | None, float | None]:
        """``(text, done, total)`` of a ``ProgressEvent`` (stage, state, done/total bytes)."""
        stage = getattr(event, "stage", "") or ""
        message = getattr(event, "message", "") or stage
        done = getattr(event, "done", None)
        total = getattr(event, "total", None)
        now = self.clock()
        if stage in ("submitted", "resume"):
            self.job_started = now
            return "Waiting for Leanplum: the job is submitted", done, total
        if stage == "poll":
            if self.job_started is None:
                self.job_started = now
            state = getattr(event, "state", None) or "?"
            elapsed = duration_text(now - self.job_started)
            return f"Waiting for Leanplum: {state}, {elapsed}", done, total
        if stage == "download":
            if self.download_started is None:
                self.download_started = now
            seconds = now - self.download_started
            rate = f" at {(done or 0) / 1e6 / seconds:,.1f} MB/s" if seconds > 0.5 else ""
            of = f" of {total / 1e6:,.1f}" if total else ""
            return f"Downloading: {(done or 0) / 1e6:,.1f}{of} MB{rate}", done, total
        return message, done, total
