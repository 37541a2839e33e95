"""One line for every notebook: ``conn = connect()`` -- the real API if credentials are set,
else the bundled simulator.

``connect()`` resolves credentials like the rest of the toolkit (explicit arguments, then
``LEANPLUM_APP_ID``/``LEANPLUM_EXPORT_KEY``/``LEANPLUM_API_URL``, then a ``.env`` file). With
none at all it starts the bundled :class:`~leanplum_notebook.simulator.Simulator` (once per
process and seed, serving on 127.0.0.1 from a daemon thread, its clock the real time) and
returns settings pointing at it, with a fresh temporary cache folder, so that the notebooks
run anywhere (Binder, CI, a laptop without credentials) and a re-run on the simulator never
touches the cache or the quota ledger of a real app.

A partial configuration (an app id without a key, say) is an error, never a silent switch to
simulated data.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanplum_notebook.dates import format_day, pacific_day
from leanplum_notebook.errors import ConfigError
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.settings import (
    ENV_API_URL,
    ENV_APP_ID,
    ENV_EXPORT_KEY,
    Settings,
    read_dotenv,
    resolve_cache_dir,
)

if TYPE_CHECKING:
    from leanplum_notebook.sources.export import Export, Plan
    from leanplum_notebook.store.quota import QuotaStatus

__all__ = ["Connection", "connect", "recent_days"]

logger = get_logger(__name__)

#: Set to "1" (by ``render_report``) when the credentials in the environment are those of a
#: bundled simulator, so that the report says its data is synthetic.
ENV_SIMULATED = "LEANPLUM_NOTEBOOK_SIMULATED"
#: The automated export feed to read instead of the API (``connect(feed=...)``)
ENV_FEED_URL = "LEANPLUM_FEED_URL"

#: Default length of the simulator's history (days back from now).
SIMULATOR_HISTORY_DAYS = 90
#: Size of the simulated app ``connect()`` starts: smaller than the generator's default (about
#: 800 sessions a day instead of 2,000) so a notebook exports and loads weeks of data in
#: seconds on a small machine such as Binder's, while keeping every pattern the charts show.
SIMULATOR_INITIAL_USERS = 600
SIMULATOR_NEW_USERS_PER_DAY = 25.0


def recent_days(
    days: int = 28, *, lag: int = 2, clock: Callable[[], float] = time.time
) -> tuple[str, str]:
    """Return the ``days`` Pacific days ending ``lag`` days before today, as ``YYYYmmdd`` text.

    Parameters
    ----------
    days : int, default 28
        Number of days in the range.
    lag : int, default 2
        Days between the end of the range and today (Pacific); 0 ends today.
    clock : callable
        Unix-seconds clock (``time.time``).

    Returns
    -------
    tuple of str
        ``(start, end)``, e.g. ``("20260510", "20260606")``.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if lag < 0:
        raise ValueError(f"lag must be 0 or more, got {lag}")
    end: date = pacific_day(clock()) - timedelta(days=lag)
    start = end - timedelta(days=days - 1)
    return format_day(start), format_day(end)


@dataclass(frozen=True, repr=False)
class Connection:
    """Where the data comes from: settings for the API (real or simulated) plus a clock.

    Attributes
    ----------
    settings : Settings
        App id, export key (never shown), API URL and cache folder.
    simulated : bool
        True when ``settings`` point at the bundled simulator started by ``connect()``.
    clock : callable
        Unix-seconds clock used for "today" (Pacific), the 60-day window and the quota day.
    simulator : Simulator or None
        The simulator object when ``simulated``.
    feed : Feed or None
        The automated export feed, when the data comes from one (``connect(feed=...)`` or
        ``LEANPLUM_FEED_URL``): ``fetch`` then syncs it and spends no export.
    """

    settings: Settings
    simulated: bool = False
    clock: Callable[[], float] = field(default=time.time, compare=False)
    simulator: Any = field(default=None, compare=False)
    feed: Any = field(default=None, compare=False)

    @property
    def app_id(self) -> str:
        """The app id (not a secret)."""
        return self.settings.app_id

    def fetch(self, start: str | date, end: str | date | None = None, **kw: Any) -> Export:
        """Export (or reuse from the cache) ``start``..``end``: ``fetch()`` with these settings.

        Keyword arguments are those of :func:`leanplum_notebook.export.fetch`.
        """
        if self.feed is not None:
            fmt = kw.get("format") or self.feed.format
            source = self.feed if fmt == self.feed.format else self.feed.with_format(fmt)
            return source.export(start, end, progress=kw.get("progress", True))
        from leanplum_notebook.sources.export import fetch

        kw.setdefault("clock", self.clock)
        return fetch(start, end, settings=self.settings, **kw)

    def plan(self, start: str | date, end: str | date | None = None, **kw: Any) -> Plan:
        """What ``fetch`` would do, without any request: :func:`leanplum_notebook.export.plan`."""
        from leanplum_notebook.sources.export import plan

        kw.setdefault("clock", self.clock)
        return plan(start, end, settings=self.settings, **kw)

    def quota(self) -> QuotaStatus:
        """Exports left today (Pacific) for this app: :func:`leanplum_notebook.quota.quota`."""
        from leanplum_notebook.store.quota import quota

        return quota(settings=self.settings, clock=self.clock)

    def recent_days(self, days: int = 28, *, lag: int = 2) -> tuple[str, str]:
        """:func:`recent_days` on this connection's clock."""
        return recent_days(days, lag=lag, clock=self.clock)

    @property
    def source(self) -> str:
        """Where the data comes from, in words (for reports)."""
        if self.feed is not None:
            return f"Leanplum's automated export feed ({self.feed.shown})"
        return (
            "the bundled simulator (synthetic data)"
            if self.simulated
            else "the Leanplum export API"
        )

    def __repr__(self) -> str:
        if self.feed is not None:
            return (
                f"Connection(feed={self.feed.shown!r}, cache_dir={str(self.settings.cache_dir)!r})"
            )
        source = "simulator" if self.simulated else "api"
        return (
            f"Connection({source}, app_id={self.settings.app_id!r}, "
            f"api_url={self.settings.api_url!r}, cache_dir={str(self.settings.cache_dir)!r})"
        )

    __str__ = __repr__


# The simulators started by connect(), one per (seed, history days) per process. Created on
# first use, never at import; closed (and their temporary caches removed) at exit.
_LOCK = threading.Lock()
_SIMULATORS: dict[Any, tuple[Any, Path]] = {}


def _close_simulators() -> None:
    with _LOCK:
        for sim, cache in _SIMULATORS.values():
            try:
                sim.close()
            except Exception:  # exiting anyway: a close failure must not mask the exit status
                logger.debug("closing the simulator failed", exc_info=True)
            shutil.rmtree(cache, ignore_errors=True)
        _SIMULATORS.clear()


def _simulator(seed: int, data: Any) -> tuple[Any, Path]:
    with _LOCK:
        if (seed, data) in _SIMULATORS:
            return _SIMULATORS[(seed, data)]
        from leanplum_notebook.simulator import Simulator

        if not _SIMULATORS:
            atexit.register(_close_simulators)
        sim = Simulator(seed=seed, data=data)
        sim.start()
        cache = Path(tempfile.mkdtemp(prefix="leanplum-notebook-sim-"))
        _SIMULATORS[(seed, data)] = (sim, cache)
        logger.info("started the bundled simulator at %s (seed %d)", sim.api_url, seed)
        return sim, cache


def _credentials_given(environ: Mapping[str, str], dotenv: str | None) -> bool:
    names = (ENV_APP_ID, ENV_EXPORT_KEY, ENV_API_URL)
    if any(environ.get(name) for name in names):
        return True
    file_values = read_dotenv(dotenv)
    return any(file_values.get(name) for name in names)


def connect(
    *,
    app_id: str | None = None,
    export_key: str | None = None,
    api_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    days: int | None = None,
    simulate: bool | None = None,
    data: Any = None,
    environ: Mapping[str, str] | None = None,
    dotenv: str | None = ".env",
    feed: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Connection:
    """Connect to the real export API when credentials are set, else to the bundled simulator.

    Parameters
    ----------
    app_id, export_key, api_url : str, optional
        Credentials; default from ``LEANPLUM_APP_ID``/``LEANPLUM_EXPORT_KEY``/
        ``LEANPLUM_API_URL`` or a ``.env`` file.
    cache_dir : path, optional
        Cache root. Default for the real API: ``LEANPLUM_CACHE_DIR`` or the platform's user
        cache folder; for the simulator: a temporary folder removed at exit.
    seed : int, default 0
        Simulator only: the seed of its synthetic data (same seed, same data).
    days : int, optional
        Simulator only: days of history it holds, ending now (default 90).
    data : DataConfig, optional
        Simulator only: the synthetic app, instead of the default one (``SIMULATOR_INITIAL_USERS``
        and ``SIMULATOR_NEW_USERS_PER_DAY``, with ``seed`` and ``days``).
    simulate : bool, optional
        True: always the bundled simulator, whatever the environment says; False: never
        (missing credentials raise ConfigError); None (default): decide as described above.
    environ : mapping, optional
        Environment to read instead of ``os.environ``.
    dotenv : str or None, default ".env"
        ``.env`` file to read; None for none.
    feed : str or path, optional
        Read Leanplum's automated export feed at this URL (``s3://bucket/prefix/``, a
        folder...) instead of calling the API; default ``LEANPLUM_FEED_URL``.
    storage_options : mapping, optional
        fsspec options of the feed (credentials default to the usual chain).

    Returns
    -------
    Connection
        ``.settings``, ``.simulated``, and ``fetch``/``plan``/``quota`` bound to them.

    Raises
    ------
    ConfigError
        When credentials are given only in part (e.g. an app id without an export key).
    """
    env = os.environ if environ is None else environ
    feed_url = feed if feed is not None else env.get(ENV_FEED_URL)
    if feed_url and not simulate:
        from leanplum_notebook.sources.feed import Feed

        root = resolve_cache_dir(cache_dir, environ=env, dotenv=dotenv)
        source = Feed(feed_url, cache_dir=root, storage_options=storage_options)
        settings = Settings(app_id=source.shown, export_key="", cache_dir=root)
        return Connection(settings, feed=source)
    if not simulate:
        try:
            settings = Settings.resolve(
                app_id, export_key, api_url, cache_dir, environ=env, dotenv=dotenv
            )
        except ConfigError:
            if simulate is False or app_id or export_key or api_url:
                raise
            if _credentials_given(env, dotenv):
                raise  # some credentials given: the user means the real API; say what is missing
        else:
            # render_report sets this when it hands a simulator's settings to a report kernel.
            simulated = env.get(ENV_SIMULATED) == "1"
            return Connection(settings, simulated=simulated)

    history = SIMULATOR_HISTORY_DAYS if days is None else int(days)
    if history < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if data is None:
        from leanplum_notebook.simulator.generator import DataConfig

        data = DataConfig(
            seed=seed,
            history_days=history,
            initial_users=SIMULATOR_INITIAL_USERS,
            new_users_per_day=SIMULATOR_NEW_USERS_PER_DAY,
        )
    sim, sim_cache = _simulator(seed, data)
    root = Path(cache_dir).expanduser() if cache_dir is not None else sim_cache
    settings = Settings(
        app_id=sim.app_id, export_key=sim.export_key, api_url=sim.api_url, cache_dir=root
    )
    return Connection(settings, simulated=True, clock=sim.clock.now, simulator=sim)
