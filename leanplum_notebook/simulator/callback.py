"""The ``callbackUrl`` POST of a finished job (spec 7.9)."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Any

import orjson

from .api import is_loopback_url

__all__ = ["CALLBACK_TIMEOUT", "post_callback"]

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead a loopback-only callback to a remote host: never follow one.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_callback(url: str, body: dict[str, Any], *, allow_remote: bool = False) -> bool:
    """POST ``body`` as JSON to ``url`` once; return whether it was answered with 2xx.

    Failures are logged and swallowed: a failed callback never fails the job.
    """
    if not allow_remote and not is_loopback_url(url):
        logger.warning("callback to a non-loopback address refused")
        return False
    request = urllib.request.Request(
        url,
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # No proxies from the environment: a loopback callback must stay on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(request, timeout=CALLBACK_TIMEOUT) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("callback POST failed: %s", type(exc).__name__)
        return False
    if not ok:
        logger.warning("callback POST answered with a non-2xx status")
    return ok
