"""Plain data passed between the pipeline's modules (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from leanplum_notebook.errors import ValidationError

ExportFormat = Literal["json", "csv"]
JobState = Literal["PENDING", "RUNNING", "FINISHED", "FAILED"]
FORMATS: tuple[str, ...] = ("json", "csv")


@dataclass(frozen=True)
class ExportPart:
    """One downloaded export job, as the loader sees it.

    Attributes
    ----------
    entry_dir : Path
        The cache entry folder of the job; the loader keeps its Parquet tables in
        ``entry_dir / "parquet"``.
    format : {"json", "csv"}
        File format of ``files``.
    files : tuple of Path
        The complete downloaded files of the job (JSON lines, or CSV files whose names end
        in ``-output<kind>-<shard>``).
    days : tuple of date
        The Pacific days this part is authoritative for. The job may hold sessions of
        other days (a later refresh of a provisional day supersedes them); the loader keeps
        only sessions whose start falls on one of these days.
    num_sessions : int or None
        ``numSessions`` reported by the server for the whole job, for the integrity check.
    job_id : str
        The server's job id.
    """

    entry_dir: Path
    format: ExportFormat
    files: tuple[Path, ...]
    days: tuple[date, ...]
    num_sessions: int | None = None
    job_id: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def _check_http_url(value: object, argument: str) -> None:
    """An ``http(s)://host...`` URL, or ValidationError naming ``argument``."""
    if not isinstance(value, str):
        raise ValidationError(argument, f"expected an http(s) URL, got {type(value).__name__}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(argument, f"not a valid URL: {value[:200]!r}") from None
    if (
        not value.startswith(("http://", "https://"))
        or not host
        or any(c <= " " or c == "\x7f" for c in value)
    ):
        raise ValidationError(
            argument, f"must be an http:// or https:// URL with a host, got {value[:200]!r}"
        )


@dataclass(frozen=True)
class ExportRequest:
    """The arguments of one ``exportData`` call, checked on construction.

    The export key is not part of it (the client adds it); the S3 secret is, but never
    shows in ``repr`` nor in :meth:`public_dict`.

    Raises
    ------
    ValidationError
        End before start, ``start_time >= end_time``, unknown format, an S3 bucket without
        both keys (or keys without a bucket), a callback URL that is not http(s).
    """

    start_date: date
    end_date: date
    format: ExportFormat = "json"
    start_time: int | None = None
    end_time: int | None = None
    callback_url: str | None = None
    s3_bucket: str | None = None
    s3_access_id: str | None = field(default=None, repr=False)
    s3_access_key: str | None = field(default=None, repr=False)
    s3_prefix: str | None = None
    compress: bool = False

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ValidationError(
                "end",
                f"end day {self.end_date:%Y%m%d} is before start day {self.start_date:%Y%m%d}",
            )
        if self.format not in FORMATS:
            raise ValidationError("format", f"must be 'json' or 'csv', got {self.format!r}")
        for name in ("start_time", "end_time"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValidationError(name, f"must be whole Unix seconds, got {value!r}")
            if value is not None and value < 0:
                raise ValidationError(name, f"must be Unix seconds >= 0, got {value!r}")
        if (
            self.start_time is not None
            and self.end_time is not None
            and self.start_time >= self.end_time
        ):
            raise ValidationError(
                "start_time",
                f"start_time ({self.start_time}) must be before end_time ({self.end_time})",
            )
        if self.s3_bucket:
            if not self.s3_access_id or not self.s3_access_key:
                raise ValidationError(
                    "s3_bucket", "an S3 bucket needs both s3_access_id and s3_access_key"
                )
        elif self.s3_access_id or self.s3_access_key or self.s3_prefix:
            raise ValidationError("s3_bucket", "S3 keys or prefix were given without s3_bucket")
        if self.callback_url is not None:
            _check_http_url(self.callback_url, "callback_url")

    def __repr__(self) -> str:
        return f"ExportRequest({self.public_dict()!r})"

    def params(self) -> dict[str, str]:
        """The API parameters of this request (spec 1.3 names), secrets included."""
        out = {
            "startDate": f"{self.start_date:%Y%m%d}",
            "endDate": f"{self.end_date:%Y%m%d}",
            "exportFormat": self.format,
        }
        if self.start_time is not None:
            out["startTime"] = str(self.start_time)
        if self.end_time is not None:
            out["endTime"] = str(self.end_time)
        if self.callback_url:
            out["callbackUrl"] = self.callback_url
        if self.s3_bucket:
            out["s3BucketName"] = self.s3_bucket
            out["s3AccessId"] = str(self.s3_access_id)
            out["s3AccessKey"] = str(self.s3_access_key)
            if self.s3_prefix:
                out["s3ObjectPrefix"] = self.s3_prefix
            if self.compress:
                out["compressData"] = "true"
        return out

    def secret_params(self) -> tuple[str, ...]:
        """Names of the parameters that must never be logged or put in a URL."""
        return ("s3AccessId", "s3AccessKey") if self.s3_bucket else ()

    def public_dict(self) -> dict[str, str]:
        """The parameters without secrets, for logs and the cache's entry.json."""
        secret = set(self.secret_params())
        return {k: v for k, v in self.params().items() if k not in secret}


@dataclass(frozen=True)
class JobStatus:
    """One ``getExportResults`` answer.

    Attributes
    ----------
    job_id : str
    state : str
        ``PENDING``, ``RUNNING``, ``FINISHED`` or ``FAILED`` (other text is kept as is).
    files : tuple of str
        Download URLs (FINISHED only).
    num_sessions, num_bytes : int or None
    s3_copy_status : dict or None
        ``{"success": [...], "failure": [...]}`` when an S3 copy was asked for.
    message : str
        The server's error/warning message, if any (FAILED jobs).
    raw : dict
        The response element as parsed.
    """

    job_id: str
    state: str
    files: tuple[str, ...] = ()
    num_sessions: int | None = None
    num_bytes: int | None = None
    s3_copy_status: dict[str, Any] | None = None
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
