"""Seeded fault injection for the simulator (issue 8): the failures a real client must survive.

Each kind has a rate (0..1, drawn per occasion from a seeded RNG) and an optional
deterministic trigger: the first N occasions of that kind get it. An *occasion* is one request
in the kind's scope:

========================  ========  ===========================================================
kind                      scope     what happens
========================  ========  ===========================================================
``http_500_html``         api, dl   HTTP 500 with an HTML body (before the request is handled)
``http_502_empty``        api, dl   HTTP 502 with an empty body (before the request is handled)
``http_429``              api, dl   HTTP 429 with ``Retry-After`` (before the request is handled)
``success_false_200``     api       HTTP 200 with ``success:false`` (before it is handled)
``drop_connection``       api       the request IS handled, then the socket closes mid-response
``slow``                  api, dl   the answer is delayed by ``slow_seconds``, then normal
``drop_download``         dl        ``Content-Length`` is the full size; half the body is sent,
                                    then the socket closes
``truncate_file``         dl        ``Content-Length`` lies: it and the body are half the file,
                                    cleanly (a 206 keeps the true size in ``Content-Range``)
``job_fail``              job       the job ends FAILED with an error message
``job_stuck``             job       the job stays RUNNING forever
``expire_early``          job       the job's files answer 404 at once
``corrupt_line``          job       one line of a JSON export file is garbled
========================  ========  ===========================================================

Quota: a fault injected *before* the request is handled never spends an export. A fault
injected *after* an ``exportData`` was accepted spends one, as the real service would:
``drop_connection`` on an ``exportData`` answer spends an export whose job id the client never
saw (so it must not blindly retry), and the job faults spend the export of a job that fails.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["FAULT_KINDS", "SCOPES", "FaultConfig", "FaultInjector"]

#: every fault kind, in the order they are tried on one occasion
FAULT_KINDS: Final[tuple[str, ...]] = (
    "slow",
    "http_500_html",
    "http_502_empty",
    "http_429",
    "success_false_200",
    "drop_connection",
    "drop_download",
    "truncate_file",
    "job_fail",
    "job_stuck",
    "expire_early",
    "corrupt_line",
)

#: the kinds that can happen on each kind of occasion
SCOPES: Final[dict[str, frozenset[str]]] = {
    "api": frozenset(
        {
            "slow",
            "http_500_html",
            "http_502_empty",
            "http_429",
            "success_false_200",
            "drop_connection",
        }
    ),
    "download": frozenset(
        {"slow", "http_500_html", "http_502_empty", "http_429", "drop_download", "truncate_file"}
    ),
    "job": frozenset({"job_fail", "job_stuck", "expire_early", "corrupt_line"}),
}


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject, how often.

    Parameters
    ----------
    seed : int
        Seed of the RNG that draws the faults.
    rates : mapping of str to float
        Probability (0..1) of each kind on each occasion in its scope.
    first : mapping of str to int
        Deterministic triggers: the first N occasions of that kind's scope get it.
    slow_seconds : float
        Delay of the ``slow`` fault.
    retry_after : int
        Seconds announced in ``Retry-After`` by ``http_429``.
    only_actions : frozenset of str, optional
        Limit the ``api`` faults to these actions (e.g. ``{"getExportResults"}``); calls to
        other actions are neither faulted nor counted as occasions. ``None``: every call.
    """

    seed: int = 0
    rates: Mapping[str, float] = field(default_factory=dict)
    first: Mapping[str, int] = field(default_factory=dict)
    slow_seconds: float = 1.0
    retry_after: int = 1
    only_actions: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"fault rate for {kind!r} must be in 0..1, got {rate!r}")
        for kind, n in self.first.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
            if int(n) < 0:
                raise ValueError(f"first[{kind!r}] must be >= 0, got {n!r}")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {self.slow_seconds!r}")


class FaultInjector:
    """Draws faults for occasions, thread-safely and reproducibly for a given call order."""

    def __init__(self, config: FaultConfig | None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(f"leanplum-simulator-faults:{self.config.seed}")
        self._occasions: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether any fault can ever fire."""
        cfg = self.config
        return any(r > 0 for r in cfg.rates.values()) or any(n > 0 for n in cfg.first.values())

    def draw(self, scope: str) -> list[str]:
        """The faults for one occasion in ``scope``: at most ``slow`` plus one other kind."""
        if not self.enabled:
            return []
        eligible = SCOPES[scope]
        chosen: list[str] = []
        with self._lock:
            for kind in FAULT_KINDS:
                if kind not in eligible:
                    continue
                seen = self._occasions.get(kind, 0)
                self._occasions[kind] = seen + 1
                rate = float(self.config.rates.get(kind, 0.0))
                # Always draw, so one kind's trigger does not shift the others' random stream.
                roll = self._rng.random()
                hit = seen < int(self.config.first.get(kind, 0)) or roll < rate
                if hit and (kind == "slow" or len([k for k in chosen if k != "slow"]) == 0):
                    chosen.append(kind)
        return chosen
