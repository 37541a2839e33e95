"""Request parsing and validation for the simulated ``/api`` endpoint (spec 1.2-1.4, 7.3-7.5).

Pure functions: they turn the request's arguments into validated values or raise
:class:`ApiError` carrying the HTTP status and the exact message the simulator answers with.
No I/O, no clock reads (``now`` is passed in).
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import orjson

__all__ = [
    "API_VERSION",
    "ApiError",
    "ExportParams",
    "S3Target",
    "envelope",
    "error_body",
    "is_loopback_url",
    "pacific_day",
    "parse_body",
    "parse_query",
    "validate_export",
]

API_VERSION = "1.0.6"
EXPORT_WINDOW_DAYS = 60
TOO_OLD_MESSAGE = "You cannot export data older than 60 days"
INVALID_KEY_MESSAGE = "Invalid access key"
QUOTA_MESSAGE = "Export limit of 24 per day exceeded"
JOB_NOT_FOUND_MESSAGE = "Export job not found"
EXPORT_FORMATS = ("json", "csv")
_DATE_RE = re.compile(r"\d{8}")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class ApiError(Exception):
    """A request the simulator rejects: HTTP ``status`` and the ``error.message`` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class S3Target:
    """Where to copy a job's files. The secret never shows in the repr."""

    bucket: str
    access_id: str
    access_key: str
    prefix: str
    compress: bool

    def __repr__(self) -> str:
        return (
            f"S3Target(bucket={self.bucket!r}, prefix={self.prefix!r}, "
            f"compress={self.compress}, access_key=***)"
        )


@dataclass(frozen=True)
class ExportParams:
    """Validated ``exportData`` arguments.

    ``start_date``/``end_date`` are Pacific calendar days (inclusive); ``start_time`` (inclusive)
    and ``end_time`` (exclusive) bound the availability time in Unix seconds, ``None`` = open.
    """

    start_date: date
    end_date: date
    start_time: float | None
    end_time: float | None
    export_format: str
    callback_url: str | None
    s3: S3Target | None
    compress: bool


def envelope(item: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap one action result in Leanplum's ``{"response": [...]}`` envelope."""
    return {"response": [dict(item)]}


def error_body(message: str) -> dict[str, Any]:
    """The envelope of a rejected request."""
    return envelope({"success": False, "error": {"message": message}})


@functools.cache
def _pacific() -> ZoneInfo:
    # Loaded on first use, not at import (reading the time zone database is I/O).
    return ZoneInfo("America/Los_Angeles")


def pacific_day(t: float) -> date:
    """The US Pacific calendar day of the Unix time ``t`` (DST-correct)."""
    return datetime.fromtimestamp(t, _pacific()).date()


def _scalar(value: Any, name: str) -> str:
    # JSON bodies may carry numbers and booleans; the API's arguments are all scalars.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if value is None:
        return ""
    raise ApiError(400, f"Invalid parameter {name}: expected a single value")


def parse_query(query: str) -> dict[str, str]:
    """Arguments from a URL query string (the last value wins for repeated names)."""
    try:
        return dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:  # e.g. too many fields
        raise ApiError(400, f"Malformed query string: {exc}") from None


def parse_body(content_type: str, body: bytes) -> dict[str, str]:
    """Arguments from a POST body: JSON object, urlencoded form or multipart form data."""
    if not body:
        return {}
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json" or (not mime and body.lstrip()[:1] == b"{"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Malformed JSON body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Malformed JSON body: expected an object")
        return {str(k): _scalar(v, str(k)) for k, v in data.items()}
    if mime == "application/x-www-form-urlencoded" or not mime:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "Malformed form body: not UTF-8") from None
        return parse_query(text)
    if mime == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise ApiError(
        400, f"Unsupported Content-Type {mime!r}: use JSON, form-urlencoded or multipart form data"
    )


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "Malformed multipart body")
    out: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        charset = part.get_content_charset() or "utf-8"
        try:
            out[name] = payload.decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise ApiError(400, f"Invalid parameter {name}: not valid text") from None
    return out


def require(params: Mapping[str, str], name: str) -> str:
    """The value of a required argument, or a 400 naming it."""
    value = params.get(name, "")
    if value == "":
        raise ApiError(400, f"Missing required parameter: {name}")
    return value


def parse_bool(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """``true``/``false`` (any case, also ``1``/``0``); absent or empty means ``default``."""
    value = params.get(name, "").strip().lower()
    if value == "":
        return default
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ApiError(400, f"Invalid parameter {name}: expected true or false, got {value!r}")


def parse_date(value: str, name: str) -> date:
    """A ``YYYYmmdd`` date, or a 400 naming the parameter."""
    if not _DATE_RE.fullmatch(value):
        raise ApiError(400, f"Invalid parameter {name}: expected YYYYmmdd, got {value!r}")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ApiError(400, f"Invalid parameter {name}: no such date {value!r}") from None


def parse_time(params: Mapping[str, str], name: str) -> float | None:
    """Unix seconds (integer or decimal text); absent means ``None``."""
    value = params.get(name, "").strip()
    if value == "":
        return None
    if not _NUMBER_RE.fullmatch(value):
        raise ApiError(400, f"Invalid parameter {name}: expected Unix seconds, got {value!r}")
    t = float(value)
    if not math.isfinite(t) or t < 0 or t > 1e11:
        raise ApiError(400, f"Invalid parameter {name}: {value!r} is out of range")
    return t


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is a loopback address (or ``localhost``), without any DNS."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_callback(params: Mapping[str, str], allow_remote: bool) -> str | None:
    url = params.get("callbackUrl", "").strip()
    if url == "":
        return None
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError:
        parts, has_host = None, False
    if parts is None or parts.scheme not in ("http", "https") or not has_host:
        raise ApiError(400, f"Invalid parameter callbackUrl: expected an http(s) URL, got {url!r}")
    if not allow_remote and not is_loopback_url(url):
        raise ApiError(
            400,
            "Invalid parameter callbackUrl: this simulator only calls loopback addresses "
            "(start it with allow_remote_callbacks=True to allow others)",
        )
    return url


def _parse_s3(params: Mapping[str, str], compress: bool) -> S3Target | None:
    bucket = params.get("s3BucketName", "").strip()
    if bucket == "":
        return None
    for name in ("s3AccessId", "s3AccessKey"):
        if params.get(name, "") == "":
            raise ApiError(
                400, f"Missing required parameter: {name} (required when s3BucketName is given)"
            )
    return S3Target(
        bucket=bucket,
        access_id=params["s3AccessId"],
        access_key=params["s3AccessKey"],
        prefix=params.get("s3ObjectPrefix", ""),
        compress=compress,
    )


def validate_common(params: Mapping[str, str]) -> tuple[str, str, str]:
    """Check ``appId``, ``clientKey``, ``apiVersion``, ``action``; return (appId, key, action)."""
    app_id = require(params, "appId")
    client_key = require(params, "clientKey")
    version = require(params, "apiVersion")
    if version != API_VERSION:
        raise ApiError(
            400, f"Invalid parameter apiVersion: only {API_VERSION} is supported, got {version!r}"
        )
    action = require(params, "action")
    parse_bool(params, "devMode")
    return app_id, client_key, action


def validate_export(
    params: Mapping[str, str], now: float, *, allow_remote_callbacks: bool = False
) -> ExportParams:
    """Validate ``exportData`` arguments at simulated time ``now``.

    Raises
    ------
    ApiError
        400 naming the parameter for a missing or malformed one; 200 with the 60-day message
        when ``startDate`` or ``startTime`` is too old (spec 7.5).
    """
    start_date = parse_date(require(params, "startDate"), "startDate")
    end_text = params.get("endDate", "")
    end_date = start_date if end_text == "" else parse_date(end_text, "endDate")
    if end_date < start_date:
        raise ApiError(
            400,
            f"Invalid parameter endDate: {end_date:%Y%m%d} is before startDate {start_date:%Y%m%d}",
        )
    start_time = parse_time(params, "startTime")
    end_time = parse_time(params, "endTime")
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise ApiError(400, "Invalid parameter endTime: must be after startTime")
    export_format = params.get("exportFormat", "json") or "json"
    if export_format.lower() not in EXPORT_FORMATS:
        raise ApiError(
            400, f"Invalid parameter exportFormat: expected json or csv, got {export_format!r}"
        )
    compress = parse_bool(params, "compressData")
    callback_url = _parse_callback(params, allow_remote_callbacks)
    s3 = _parse_s3(params, compress)
    today = pacific_day(now)
    if (today - start_date).days > EXPORT_WINDOW_DAYS or (
        start_time is not None and now - start_time > EXPORT_WINDOW_DAYS * 86400
    ):
        raise ApiError(200, TOO_OLD_MESSAGE)
    return ExportParams(
        start_date=start_date,
        end_date=end_date,
        start_time=start_time,
        end_time=end_time,
        export_format=export_format.lower(),
        callback_url=callback_url,
        s3=s3,
        compress=compress,
    )


def days(first: date, last: date) -> list[date]:
    """Every calendar day from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
