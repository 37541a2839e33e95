"""The only code that speaks HTTP to the export API.

One injectable ``requests.Session``; the envelope parsed as spec 7.3 and 8 say
(``success`` not true is an error whatever the HTTP status; a non-JSON 5xx is transient;
escaped slashes and key order do not matter because a real JSON parser reads it).

Secrets stay out of URLs by default: a call is a POST whose non-secret arguments are in
the query string and whose ``clientKey`` (and S3 credentials) are in a JSON body (spec 1.1:
POST arguments may be in the URL, the body, or both). So proxies' access logs never carry
the key. ``method="get"`` (or ``LEANPLUM_API_METHOD=get``) sends everything in the query,
as every recorded real request does, for gateways that drop bodies; the key is then in the
URL, and :mod:`leanplum_notebook.redaction` masks it in ``urllib3``'s DEBUG line as in every
message, log record and cache file.

Nothing from the wire is trusted: every field of an answer is type-checked
(:func:`job_status`), a body nested too deeply or not JSON is an :class:`ApiError`, and an
``exportData`` answer that cannot be read after the server took the request is
:class:`ExportOutcomeUnknown` (the export may have been counted).

Retries: connection errors, 429 (honouring ``Retry-After``) and 5xx, with exponential
backoff and jitter. ``exportData`` is retried only when it certainly did not reach the
server (connect error) or the server answered 429/5xx; a read timeout or a connection
dropped after the request was sent raises :class:`ExportOutcomeUnknown` instead, because
the export may have been created and counted.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from leanplum_notebook.errors import (
    ApiError,
    AuthError,
    ExportOutcomeUnknown,
    InvalidAnswer,
    JobNotFound,
    NoMatchingData,
    QuotaExceeded,
    TransientError,
    ValidationError,
)
from leanplum_notebook.models import ExportRequest, JobStatus
from leanplum_notebook.redaction import get_logger, redact, redact_value, remember
from leanplum_notebook.settings import Settings

__all__ = ["API_VERSION", "MAX_URL", "Client", "RetryPolicy", "job_status", "parse_envelope"]

logger = get_logger(__name__)

API_VERSION = "1.0.6"
#: Longest Retry-After honoured, in seconds.
MAX_RETRY_AFTER = 300.0
#: Longest GET URL the API accepts (spec 1.1)
MAX_URL = 2083
#: Largest count believed from an answer (numSessions, numBytes): a signed 64-bit integer
MAX_COUNT = 2**63 - 1
#: Loggers whose records may carry the request URL (the key, in GET mode)
URL_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")
_QUOTA_RE = re.compile(r"export limit|per day|quota", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: ``base * factor**n`` seconds, capped, +/- jitter.

    Leanplum's own example (spec 2.3) is about 2 s, 4 s, 8 s with random +/- half.
    """

    attempts: int = 5
    base: float = 2.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 0)."""
        d = min(self.cap, self.base * self.factor**attempt)
        return max(0.0, d * (1.0 + self.jitter * (2.0 * rng.random() - 1.0)))


def _message(element: Mapping[str, Any]) -> str:
    for key in ("error", "warning"):
        value = element.get(key)
        if isinstance(value, Mapping) and value.get("message"):
            return str(value["message"])
        if isinstance(value, str) and value:
            return value
    for key in ("message", "errorMessage"):
        if element.get(key):
            return str(element[key])
    return ""


def _is_success(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def classify(status: int | None, message: str, action: str) -> ApiError:
    """The exception for a refused call (pure)."""
    text = message or "no message"
    low = text.lower()
    if status == 403 or "invalid access key" in low:
        return AuthError(status, text, action)
    if status == 429:
        if _QUOTA_RE.search(text):
            return QuotaExceeded(status, text, action)
        return TransientError(status, text, action)
    if status == 404:
        if "no matching data" in low:
            return NoMatchingData(status, text, action)
        if "job" in low or action == "getExportResults":
            return JobNotFound(status, text, action)
    if status is not None and status >= 500:
        return TransientError(status, text, action)
    return ApiError(status, text, action)


def parse_envelope(status: int, body: bytes, action: str) -> dict[str, Any]:
    """Parse ``{"response": [{...}]}`` and return the first element, or raise.

    Parameters
    ----------
    status
        HTTP status code.
    body
        Raw response body.
    action
        The API action (selects which errors apply).

    Raises
    ------
    TransientError
        5xx (JSON or not), a non-JSON 429.
    ApiError
        (or a subclass) when ``success`` is not true, whatever the status.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # RecursionError: a body nested deeper than the parser's stack (a hostile answer)
        deep = isinstance(exc, RecursionError)
        what = f"{'JSON nested too deeply' if deep else 'non-JSON response'} ({len(body)} bytes)"
        if status >= 500 or status == 429:
            raise TransientError(status, what, action) from None
        raise ApiError(status, what, action) from None
    elements = data.get("response") if isinstance(data, dict) else None
    if isinstance(data, dict) and elements is None and "success" in data:
        elements = [data]  # a bare object (e.g. a callback body) instead of the envelope
    if not isinstance(elements, list) or not elements or not isinstance(elements[0], dict):
        if status >= 500:
            raise TransientError(status, "malformed response envelope", action)
        raise ApiError(status, "malformed response envelope (no 'response' list)", action)
    element: dict[str, Any] = elements[0]
    message = _message(element)
    if action == "getExportResults" and str(element.get("state", "")).upper() == "FAILED":
        return element  # a FAILED job is reported by the poller with its message
    if _is_success(element.get("success")) and status < 400:
        if isinstance(element.get("error"), Mapping):
            # spec 2.1: success with an error means "received, action skipped"
            raise ApiError(status, f"action skipped: {message}", action)
        if "warning" in element:
            logger.warning("%s answered with a warning: %s", action, message)
        return element
    raise classify(status, message, action)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or a date), at most
    ``MAX_RETRY_AFTER``; None without a usable header."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _is_connect_error(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(
            reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        )
    return False


def _count(element: Mapping[str, Any], name: str) -> int | None:
    """A whole, non-negative count from the answer, or None when it is absent."""
    value = element.get(name)
    if value is None:
        return None
    number: int | None = None
    text = value.strip() if isinstance(value, str) else ""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (text.isascii() and text.isdigit()):
        number = int(value)  # inf and nan are not integers; 1e400 parses as inf
    if number is None or not 0 <= number <= MAX_COUNT:
        shown = repr(value)[:40]
        raise InvalidAnswer(
            200, f"{name} is {shown}, not a whole number of 0 or more", "getExportResults"
        )
    return number


def _wrong(name: str, value: object, wanted: str) -> InvalidAnswer:
    return InvalidAnswer(
        200,
        f"{name} is {type(value).__name__} {redact(repr(value))[:60]}, not {wanted}",
        "getExportResults",
    )


def _file_urls(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _wrong("files", value, "a list of URLs")
    urls = []
    for i, item in enumerate(value):
        url = item.get("url") if isinstance(item, Mapping) else item
        if not isinstance(url, str) or not url:
            raise _wrong(f"files[{i}]", item, "a URL")
        urls.append(url)
    return tuple(urls)


def job_status(element: Mapping[str, Any], job_id: str) -> JobStatus:
    """A ``getExportResults`` element as a :class:`JobStatus`, every field type-checked
    (pure).

    Text the server wrote is redacted, also inside ``s3CopyStatus``, before it is kept.

    Raises
    ------
    InvalidAnswer
        A field has the wrong type: ``state`` or ``jobId`` not text, ``files`` not a list
        of URLs, a count that is not a whole number in the 64-bit range (``1e400``, ``-1``,
        ``"many"``), ``s3CopyStatus`` not an object.
    """
    state = element.get("state")
    if not isinstance(state, str):
        raise _wrong("state", state, "text")
    echoed = element.get("jobId", job_id)
    if not isinstance(echoed, str):
        raise _wrong("jobId", echoed, "text")
    s3 = element.get("s3CopyStatus")
    if s3 is not None and not isinstance(s3, Mapping):
        raise _wrong("s3CopyStatus", s3, "an object")
    return JobStatus(
        job_id=echoed or job_id,
        state=state.strip().upper(),
        files=_file_urls(element.get("files")),
        num_sessions=_count(element, "numSessions"),
        num_bytes=_count(element, "numBytes"),
        s3_copy_status=None if s3 is None else redact_value(s3),
        message=redact(_message(element)),
        raw=redact_value(element),
    )


def _readable(body: bytes) -> bool:
    """True when a body is an envelope whose element could be read (then an error in it is
    the server's own refusal, and nothing was spent)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    items = data.get("response", [data]) if isinstance(data, dict) else None
    return isinstance(items, list) and bool(items) and isinstance(items[0], dict)


class Client:
    """A client of ``exportData`` and ``getExportResults``.

    Parameters
    ----------
    settings
        App id, export key, API URL and request method.
    session
        The ``requests.Session`` to use (default: a new one).
    retry
        Retry policy for transient failures.
    timeout
        ``(connect, read)`` seconds per HTTP call.
    sleep
        Sleeper used between retries (injectable for tests).
    rng
        Random source for the jitter.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.session = session if session is not None else requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._host = urlsplit(settings.api_url).netloc or settings.api_url
        remember(settings.export_key)
        for name in URL_LOGGERS:
            get_logger(name)  # their records carry request URLs: mask the key there too

    def __repr__(self) -> str:
        return (
            f"Client(app_id={self.settings.app_id!r}, api_url={self.settings.api_url!r}, "
            f"method={self.settings.method!r})"
        )

    def export_data(self, request: ExportRequest) -> str:
        """Start an export job; return its job id.

        Raises
        ------
        ExportOutcomeUnknown
            The request was sent but no usable answer came back (none, or one that cannot
            be read): the export may have been spent.
        QuotaExceeded, AuthError, ApiError
            The server refused it.
        ValidationError
            With ``method="get"``, the URL would be longer than the API accepts.
        """
        secrets = request.secret_params()
        params = request.params()
        remember(*(params[k] for k in secrets))
        element = self._call(
            "exportData",
            {k: v for k, v in params.items() if k not in secrets},
            {k: params[k] for k in secrets},
            idempotent=False,
        )
        job_id = element.get("jobId")
        if not isinstance(job_id, str) or not job_id:
            raise ExportOutcomeUnknown(
                "exportData succeeded but its answer holds no job id "
                f"({type(job_id).__name__}); the export may have been created and counted "
                "against today's 24, and cannot be followed. Check the quota before trying "
                "again"
            )
        logger.info("export job %s started for %s", job_id, request.public_dict())
        return job_id

    def get_export_results(self, job_id: str) -> JobStatus:
        """The current status of a job (safe to retry).

        Raises
        ------
        InvalidAnswer
            A field of the answer has the wrong type.
        ApiError
            The server refused the call.
        """
        element = self._call("getExportResults", {"jobId": job_id}, {}, idempotent=True)
        return job_status(element, job_id)

    # -------------------------------------------------------------- internals

    def _request(self, query: dict[str, str], body: dict[str, str]) -> requests.Response:
        """One HTTP call: a POST with the secrets in a JSON body, or a GET with all in the
        query. Redirects are never followed: requests would re-send the key (in the body or
        the URL) to wherever a 3xx points."""
        if self.settings.method == "get":
            params = {**query, **body}
            url = requests.Request("GET", self.settings.api_url, params=params).prepare().url
            if len(url or "") > MAX_URL:
                raise ValidationError(
                    "method",
                    f"this GET request would be {len(url or '')} characters long, over the "
                    f"{MAX_URL} the API accepts; use method='post'",
                )
            return self.session.get(
                self.settings.api_url, params=params, timeout=self.timeout, allow_redirects=False
            )
        return self.session.post(
            self.settings.api_url,
            params=query,
            json=body,
            timeout=self.timeout,
            allow_redirects=False,
        )

    def _call(
        self,
        action: str,
        params: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        idempotent: bool,
    ) -> dict[str, Any]:
        query = {"appId": self.settings.app_id, "apiVersion": API_VERSION, "action": action}
        query.update(params)
        body = {"clientKey": self.settings.export_key, **secrets}
        last: TransientError | None = None
        for attempt in range(self.retry.attempts):
            wait: float | None = None
            try:
                logger.debug("%s %s (attempt %d)", action, dict(params), attempt + 1)
                resp = self._request(query, body)
            except requests.RequestException as exc:
                kind = type(exc).__name__
                if _is_connect_error(exc):
                    last = TransientError(None, f"cannot connect to {self._host} ({kind})", action)
                elif not idempotent:
                    raise ExportOutcomeUnknown(
                        f"{action} was sent to {self._host} but no answer came back ({kind}); "
                        "the export may have been created and counted against today's 24. It is "
                        "not retried automatically; check the quota before trying again"
                    ) from None
                else:
                    last = TransientError(None, f"{kind} talking to {self._host}", action)
            else:
                logger.debug("%s answered HTTP %d", action, resp.status_code)
                if 300 <= resp.status_code < 400:
                    where = urlsplit(resp.headers.get("Location", "")).netloc or "elsewhere"
                    raise ApiError(
                        resp.status_code,
                        f"{self._host} redirects the API to {where}; redirects are not followed "
                        "(the export key would be sent there). Check api_url / LEANPLUM_API_URL",
                        action,
                    )
                try:
                    return parse_envelope(resp.status_code, resp.content, action)
                except TransientError as exc:
                    last = TransientError(exc.status, redact(exc.message), action)
                    wait = retry_after_seconds(resp.headers)
                except ApiError as exc:
                    if not idempotent and resp.status_code < 300 and not _readable(resp.content):
                        # the server took the request and answered something unreadable:
                        # the export may exist and be counted
                        raise ExportOutcomeUnknown(
                            f"{action} was accepted by {self._host} (HTTP "
                            f"{resp.status_code}) but its answer cannot be read "
                            f"({redact(exc.message)}); the export may have been created and "
                            "counted against today's 24. It is not retried automatically; "
                            "check the quota before trying again"
                        ) from None
                    exc.message = redact(exc.message)
                    exc.args = (redact(str(exc)),)
                    raise
            if attempt + 1 >= self.retry.attempts:
                break
            delay = wait if wait is not None else self.retry.delay(attempt, self.rng)
            logger.info("%s: %s; retrying in %.1f s", action, last, delay)
            self.sleep(delay)
        raise last or TransientError(None, "no attempt was made (retry.attempts < 1)", action)
