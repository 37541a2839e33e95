"""Exceptions raised by the export pipeline (pure; no I/O).

One base class, so ``except LeanplumError`` catches everything the toolkit raises on
purpose::

    LeanplumError
    ├── ApiError(status, message)        the API answered with an error (or not at all)
    │   ├── AuthError                     403 "Invalid access key": wrong key or app
    │   ├── QuotaExceeded                 24 exports a Pacific day are spent (local or 429)
    │   ├── JobNotFound                   404 "Export job not found"
    │   ├── NoMatchingData                404 "No matching data found." (older service)
    │   ├── InvalidAnswer                 an answer that cannot be right: a field of the wrong
    │   │                                 type, colliding file names, no files for sessions
    │   └── TransientError                5xx, non-JSON 5xx, rate-limit 429, network (retried)
    ├── ExportOutcomeUnknown              exportData sent but no answer: quota may be spent
    ├── ValidationError (also ValueError) bad argument, raised before any request
    ├── ConfigError                       missing credentials or settings
    ├── JobFailed                         the job ended FAILED (server's message kept)
    ├── ExportTimeout (also TimeoutError) the job did not finish before the deadline
    ├── FilesExpired                      the job's files are gone (24 h retention)
    ├── DownloadError                     a file could not be downloaded completely
    │   └── IncompleteExport              the files do not add up to what the job announced
    ├── CacheError                        the local cache is unusable or inconsistent
    ├── LoadError (also ValueError)       a raw export file cannot be read (file, line)
    └── ReportError                       a report could not be rendered, or a secret leaked

No exception message ever contains the export key or an S3 secret: the client redacts
them (also where the server echoes them) before raising.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "CacheError",
    "ConfigError",
    "DownloadError",
    "ExportOutcomeUnknown",
    "ExportTimeout",
    "FilesExpired",
    "IncompleteExport",
    "InvalidAnswer",
    "JobFailed",
    "JobNotFound",
    "LeanplumError",
    "LoadError",
    "NoMatchingData",
    "QuotaExceeded",
    "ReportError",
    "TransientError",
    "ValidationError",
]


class LeanplumError(Exception):
    """Base class of every error raised on purpose by leanplum-notebook."""


class ApiError(LeanplumError):
    """The API refused a call (``success`` not true) or gave no usable answer.

    Attributes
    ----------
    status : int or None
        HTTP status code, or None when no response arrived.
    message : str
        The server's ``error.message`` (or a description of the transport failure).
    action : str
        The API action that failed (``exportData``, ``getExportResults``).
    """

    def __init__(self, status: int | None, message: str, action: str = "") -> None:
        self.status = status
        self.message = message
        self.action = action
        where = f"{action}: " if action else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{where}{code}{message}")


class AuthError(ApiError):
    """The export key or app id was refused (403 "Invalid access key")."""


class QuotaExceeded(ApiError):
    """The day's 24 exports are spent; ``resets_at`` says when the quota comes back."""

    def __init__(
        self,
        status: int | None,
        message: str,
        action: str = "exportData",
        resets_at: datetime | None = None,
    ) -> None:
        self.resets_at = resets_at
        super().__init__(status, message, action)


class JobNotFound(ApiError):
    """The server does not know the job id."""


class NoMatchingData(ApiError):
    """The older service answers 404 "No matching data found." for an empty range."""


class InvalidAnswer(ApiError):
    """The server answered something that cannot be right (a hostile or broken server):
    a field of the wrong type or out of range, file names that collide, a finished job
    with no files that announces sessions."""


class TransientError(ApiError):
    """A failure worth retrying: 5xx, a non-JSON 5xx body, rate limiting, network errors."""


class ExportOutcomeUnknown(LeanplumError):
    """exportData was sent but no answer came back; the export may have been spent.

    It is never retried blindly: the server may already have created the job and counted
    it against the day's 24. The cache records the attempt as "submitted, job id unknown".
    """


class ValidationError(LeanplumError, ValueError):
    """An argument is invalid; raised before any request, so nothing is spent.

    Attributes
    ----------
    argument : str
        Name of the offending argument.
    """

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"{argument}: {message}")


class ConfigError(LeanplumError):
    """Credentials or settings are missing or unusable."""


class JobFailed(LeanplumError):
    """The export job ended in state FAILED.

    Attributes
    ----------
    job_id : str
    message : str
        The server's explanation, when it gave one.
    """

    def __init__(self, job_id: str, message: str) -> None:
        self.job_id = job_id
        self.message = message
        super().__init__(f"export job {job_id} FAILED: {message}")


class ExportTimeout(LeanplumError, TimeoutError):
    """The job did not finish before the deadline (it may still finish later)."""

    def __init__(self, job_id: str, message: str) -> None:
        self.job_id = job_id
        super().__init__(message)


class FilesExpired(LeanplumError):
    """The job's files were deleted by the service (24 h after the export)."""


class DownloadError(LeanplumError):
    """A file could not be downloaded completely or its size does not match."""


class IncompleteExport(DownloadError):
    """The downloaded files do not add up to what the job announced (``numBytes``,
    ``numSessions``): nothing is kept as complete, and the message says what the next fetch
    does (download again while the files exist, else export again, at the cost stated)."""


class CacheError(LeanplumError):
    """The local cache folder is unusable or an entry in it is inconsistent."""


class LoadError(LeanplumError, ValueError):
    """A raw export file could not be read: names the file and, when known, the line.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    line : int or None
        1-based physical line number in the (uncompressed) file, when known.
    reason : str
        What is wrong.
    """

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}, line {line}" if line is not None else f"{self.path}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.line, self.reason))


class ReportError(LeanplumError):
    """The report could not be rendered (a notebook cell failed, or a secret leaked)."""
