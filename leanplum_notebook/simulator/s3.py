"""Copy a job's files to S3 (spec 7.10), to AWS or any S3-compatible endpoint.

boto3 is imported lazily, so the simulator runs without it until an export asks for S3.
The secret key is only handed to boto3; it never appears in a message or a log line.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import orjson

from .api import S3Target

__all__ = ["S3CopyError", "copy_to_s3"]

logger = logging.getLogger(__name__)

# S3 error codes that mean "these credentials cannot write there": the job fails.
_FATAL_CODES = {
    "InvalidAccessKeyId": "the S3 access key id is not valid",
    "SignatureDoesNotMatch": "the S3 secret access key does not match the access key id",
    "AccessDenied": "access to the S3 bucket was denied",
    "NoSuchBucket": "the S3 bucket does not exist",
    "InvalidBucketName": "the S3 bucket name is not valid",
    "AllAccessDisabled": "access to the S3 bucket was denied",
    "InvalidToken": "the S3 credentials are not valid",
    "ExpiredToken": "the S3 credentials have expired",
}


class S3CopyError(Exception):
    """The copy cannot proceed (credentials, bucket, endpoint); the message is safe to show."""


def _client(target: S3Target, endpoint_url: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - boto3 is in the s3 extra
        raise S3CopyError("S3 copy needs boto3: pip install 'leanplum-notebook[s3]'") from None
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=target.access_id,
        aws_secret_access_key=target.access_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
    )


def _fatal_message(exc: Exception, bucket: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _FATAL_CODES:
            return f"S3 copy failed: {_FATAL_CODES[code]} (bucket {bucket!r}, {code})"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (403, 404):
            return f"S3 copy failed: bucket {bucket!r} not found or access denied ({status})"
        return None
    if isinstance(exc, BotoCoreError):
        return f"S3 copy failed: {type(exc).__name__} while talking to S3"
    return None


def copy_to_s3(
    files: list[Path],
    source_urls: list[str],
    target: S3Target,
    *,
    stem: str,
    endpoint_url: str | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Upload ``files`` to ``s3://bucket/<prefix><name>[.gz]``, then the manifest, last.

    Parameters
    ----------
    files : list of Path
        The job's files, in the order of ``source_urls``.
    source_urls : list of str
        The download URLs of the same files (reported as ``sourceFile``).
    target : S3Target
        Bucket, credentials, prefix and whether to gzip.
    stem : str
        The job's file stem (``export-<appNum>-<uuid>``); the manifest is
        ``<prefix><stem>-output-manifest``, a JSON list of the keys written.
    endpoint_url : str, optional
        An S3-compatible endpoint (e.g. a local moto server); ``None`` means AWS.

    Returns
    -------
    dict
        ``{"success": [{"sourceFile", "destFile"}], "failure": [{"sourceFile", "error"}]}``.

    Raises
    ------
    S3CopyError
        Bad credentials, a missing bucket or an unreachable endpoint.
    """
    client = _client(target, endpoint_url)
    success: list[dict[str, str]] = []
    failure: list[dict[str, str]] = []
    for path, url in zip(files, source_urls, strict=True):
        key = f"{target.prefix}{path.name}"
        data = path.read_bytes()
        if target.compress:
            key += ".gz"
            data = gzip.compress(data, mtime=0)
        try:
            client.put_object(Bucket=target.bucket, Key=key, Body=data)
        except Exception as exc:
            fatal = _fatal_message(exc, target.bucket)
            if fatal is not None:
                raise S3CopyError(fatal) from None
            logger.warning("S3 copy of one file failed: %s", type(exc).__name__)
            failure.append({"sourceFile": url, "error": type(exc).__name__})
            continue
        success.append({"sourceFile": url, "destFile": key})
    manifest_key = f"{target.prefix}{stem}-output-manifest"
    manifest = orjson.dumps([item["destFile"] for item in success])
    try:
        client.put_object(
            Bucket=target.bucket,
            Key=manifest_key,
            Body=manifest,
            ContentType="application/json",
        )
    except Exception as exc:
        fatal = _fatal_message(exc, target.bucket)
        message = fatal or f"S3 copy failed writing the manifest: {type(exc).__name__}"
        raise S3CopyError(message) from None
    return {"success": success, "failure": failure}
