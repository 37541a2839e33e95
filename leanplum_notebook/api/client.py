"""The only code that speaks HTTP to the export API.

One injectable ``requests.Session``; the envelope parsed as spec 7.3 and 8 say
(``success`` not true is an error whatever the HTTP status; a non-JSON 5xx is transient;
escaped slashes and key order do not matter because a real JSON parser reads it).

Secrets stay out of URLs: every call is a POST whose non-secret arguments are in the
query string and whose ``clientKey`` (and S3 credentials) are in a JSON body (spec 1.1:
POST arguments may be in the URL, the body, or both). So ``urllib3``'s DEBUG log of the
request line, proxies' access logs and exception messages never carry the key; messages
are also redacted before they are raised.

Retries: connection errors, 429 (honouring ``Retry-After``) and 5xx, with exponential
backoff and jitter. ``exportData`` is retried only when it certainly did not reach the
server (connect error) or the server answered 429/5xx; a read timeout or a connection
dropped after the request was sent raises :class:`ExportOutcomeUnknown` instead, because
the export may have been created and counted.
"""

from __future__ import annotations

import email.utils
import json
import logging
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
    JobNotFound,
    NoMatchingData,
    QuotaExceeded,
    TransientError,
)
from leanplum_notebook.models import ExportRequest, JobStatus
from leanplum_notebook.settings import Settings

__all__ = ["API_VERSION", "Client", "RetryPolicy", "parse_envelope"]

logger = logging.getLogger(__name__)

API_VERSION = "1.0.6"
#: Longest Retry-After honoured, in seconds.
MAX_RETRY_AFTER = 300.0
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
    except ValueError:
        what = f"non-JSON response ({len(body)} bytes)"
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


class Client:
    """A client of ``exportData`` and ``getExportResults``.

    Parameters
    ----------
    settings
        App id, export key and API URL.
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

    def __repr__(self) -> str:
        return f"Client(app_id={self.settings.app_id!r}, api_url={self.settings.api_url!r})"

    def export_data(self, request: ExportRequest) -> str:
        """Start an export job; return its job id.

        Raises
        ------
        ExportOutcomeUnknown
            The request was sent but no answer came back: the export may have been spent.
        QuotaExceeded, AuthError, ApiError
            The server refused it.
        """
        secrets = request.secret_params()
        params = request.params()
        element = self._call(
            "exportData",
            {k: v for k, v in params.items() if k not in secrets},
            {k: params[k] for k in secrets},
            idempotent=False,
        )
        job_id = element.get("jobId")
        if not isinstance(job_id, str) or not job_id:
            raise ApiError(200, "exportData succeeded but returned no jobId", "exportData")
        logger.info("export job %s started for %s", job_id, request.public_dict())
        return job_id

    def get_export_results(self, job_id: str) -> JobStatus:
        """The current status of a job (safe to retry)."""
        element = self._call("getExportResults", {"jobId": job_id}, {}, idempotent=True)
        files: list[str] = []
        for item in element.get("files") or []:
            url = item.get("url") if isinstance(item, Mapping) else item
            if isinstance(url, str) and url:
                files.append(url)

        def as_int(value: object) -> int | None:
            try:
                return int(value)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                return None

        s3 = element.get("s3CopyStatus")
        return JobStatus(
            job_id=str(element.get("jobId") or job_id),
            state=str(element.get("state") or "").upper(),
            files=tuple(files),
            num_sessions=as_int(element.get("numSessions")),
            num_bytes=as_int(element.get("numBytes")),
            s3_copy_status=s3 if isinstance(s3, dict) else None,
            message=self._redact(_message(element)),
            raw=element,
        )

    # -------------------------------------------------------------- internals

    def _redact(self, text: str) -> str:
        for secret in (self.settings.export_key,):
            if secret:
                text = text.replace(secret, "***")
        return text

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
        secret_values = [v for v in body.values() if v]

        def redact(text: str) -> str:
            for value in secret_values:
                text = text.replace(value, "***")
            return text

        last: TransientError | None = None
        for attempt in range(self.retry.attempts):
            wait: float | None = None
            try:
                logger.debug("%s %s (attempt %d)", action, dict(params), attempt + 1)
                # no redirects: requests would re-POST the body (the key, the S3 secret)
                # to wherever a 307/308 points
                resp = self.session.post(
                    self.settings.api_url,
                    params=query,
                    json=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
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
                    exc.message = redact(exc.message)
                    exc.args = (redact(str(exc)),)
                    raise
            if attempt + 1 >= self.retry.attempts:
                break
            delay = wait if wait is not None else self.retry.delay(attempt, self.rng)
            logger.info("%s: %s; retrying in %.1f s", action, last, delay)
            self.sleep(delay)
        raise last or TransientError(None, "no attempt was made (retry.attempts < 1)", action)
