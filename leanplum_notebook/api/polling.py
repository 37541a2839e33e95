"""Wait for an export job: backoff with a cap, an overall deadline, FAILED raised.

The clock and sleep are injected so tests can drive time; the status function is any
callable returning a :class:`~leanplum_notebook.models.JobStatus` (normally
``Client.get_export_results``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from leanplum_notebook.errors import ExportTimeout, JobFailed, TransientError
from leanplum_notebook.models import JobStatus
from leanplum_notebook.redaction import get_logger

__all__ = ["Backoff", "wait"]

logger = get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays between polls: ``initial * factor**n``, capped at ``cap`` seconds."""

    initial: float = 0.5
    factor: float = 1.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before poll number ``attempt + 1`` (attempt counts from 0)."""
        # the exponent is bounded: factor**attempt overflows a float after a few thousand
        # polls, which a job that stays in an unknown state can reach
        return float(min(self.cap, self.initial * self.factor ** min(attempt, 100)))


def wait(
    job_id: str,
    status_fn: Callable[[str], JobStatus],
    *,
    deadline: float = 1800.0,
    backoff: Backoff | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
    on_poll: Callable[[JobStatus], None] | None = None,
) -> JobStatus:
    """Poll ``status_fn(job_id)`` until the job is FINISHED.

    Parameters
    ----------
    job_id
        The job to wait for.
    status_fn
        Returns the job's current status; a :class:`TransientError` it raises (after the
        client's own retries) is logged and polling goes on until the deadline.
    deadline
        Seconds from now after which :class:`ExportTimeout` is raised.
    backoff
        Poll delays (default :class:`Backoff`).
    clock, sleep
        Time source and sleeper (injectable for tests).
    progress
        Show a ``tqdm.auto`` spinner with the job state.
    on_poll
        Called with every status received.

    Returns
    -------
    JobStatus
        The FINISHED status.

    Raises
    ------
    JobFailed
        The job ended FAILED (with the server's message).
    ExportTimeout
        Not finished before the deadline; the job may still finish (resume it later).
    """
    from tqdm.auto import tqdm

    policy = backoff or Backoff()
    t_end = clock() + deadline
    attempt = 0
    last_state = "?"
    # what a person wants to see: the job's state and how long it has taken, not poll counts
    with tqdm(
        total=None,
        desc="Waiting for Leanplum",
        bar_format="{desc}: {postfix}, {elapsed}",
        disable=not progress,
    ) as bar:
        while True:
            try:
                status = status_fn(job_id)
            except TransientError as exc:
                logger.warning("polling %s: %s (will retry)", job_id, exc)
            else:
                if on_poll is not None:
                    on_poll(status)
                if status.state != last_state:
                    logger.debug("job %s is %s", job_id, status.state)
                    last_state = status.state
                    bar.set_postfix_str(status.state, refresh=False)
                bar.update(1)  # redraws the elapsed time
                if status.state == "FINISHED":
                    return status
                if status.state == "FAILED":
                    raise JobFailed(job_id, status.message or "the server gave no reason")
            remaining = t_end - clock()
            if remaining <= 0:
                raise ExportTimeout(
                    job_id,
                    f"export job {job_id} still {last_state} after {deadline:g} s; it may "
                    "still finish: fetching the same days again resumes it without a new export",
                )
            sleep(min(policy.delay(attempt), remaining))
            attempt += 1
