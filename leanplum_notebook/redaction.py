"""The one redaction layer: every secret the toolkit holds is masked in every text it writes.

The client :func:`remember` s each secret when it receives it (the export key, the S3
access key and access id); :func:`redact` masks all of them, also URL-encoded or
JSON-escaped, as the server or a library may echo them; :func:`redact_value` does the same
inside nested answers (``s3CopyStatus``) before they are kept or written to the cache.

Log records are masked by :class:`RedactingFilter`, attached by :func:`get_logger` to
every logger of the package and, by the client, to ``urllib3``'s (whose DEBUG line shows
the request URL, which holds the key when requests are GETs). A logger's filter sees the
records logged on it, not on its children: that is why every module takes its logger
from :func:`get_logger` (the architecture test says so).

Pure (no I/O): remembering a secret only adds it to an in-memory set.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "RedactingFilter",
    "get_logger",
    "guard_loggers",
    "redact",
    "redact_value",
    "remember",
    "remember_options",
]

MASK = "***"
#: Shorter values are not masked: a 3-character "secret" would mask ordinary words
MIN_LENGTH = 6

_lock = threading.Lock()
# the texts to mask, longest first (a secret containing another is masked whole)
_masked: tuple[str, ...] = ()


def _forms(secret: str) -> set[str]:
    """The ways a secret may be written back: as is, URL-encoded, JSON-escaped."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        escaped,
        escaped.replace("/", "\\/"),
    }


def remember(*secrets: str | None) -> None:
    """Mask these values from now on, in this process (empty and short values are ignored)."""
    global _masked
    new = {form for s in secrets if s and len(s) >= MIN_LENGTH for form in _forms(s)}
    if not new - set(_masked):
        return
    with _lock:
        _masked = tuple(sorted(set(_masked) | new, key=len, reverse=True))


#: fsspec/s3fs ``storage_options`` entries that hold secrets
SECRET_OPTIONS = ("key", "secret", "token", "password", "aws_secret_access_key")


def remember_options(options: Mapping[str, Any]) -> None:
    """Remember the secrets among storage options (``key``, ``secret``, ``token``...)."""
    remember(*(str(v) for k, v in options.items() if k in SECRET_OPTIONS and v))


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    for secret in _masked:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any) -> Any:
    """A copy of a parsed JSON value with every string (and mapping key) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Masks remembered secrets in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _masked:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached (once)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def guard_loggers(*prefixes: str) -> None:
    """Attach the filter to every logger already created under these names (a library's:
    botocore logs request headers, with the access key id, at DEBUG)."""
    names = [name for name in logging.Logger.manager.loggerDict if name.startswith(prefixes)]
    for name in (*prefixes, *names):
        get_logger(name)
