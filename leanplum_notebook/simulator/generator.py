"""Synthetic Leanplum sessions: seeded, deterministic, independent per day (spec 5.1, 7.1, 7.16).

The generator builds the JSON export lines the simulator serves. Everything is a pure function
of ``(config, app_number, history end day)``:

- **Users.** A population indexed ``0, 1, 2...``: the first ``initial_users`` exist before
  history starts; then each Pacific day of history adds ``new_users_per_day * (1 + growth)**k``
  users (more on weekends, a little seeded noise). A user's attributes (platform, device,
  city, locale, plan, experiment bucket...) are a pure function of ``(seed, app, index)``.
- **Days.** The sessions whose start falls on one Pacific day are drawn from an RNG seeded by
  ``(seed, app, day)`` alone, so asking for day B before day A changes nothing. A user who
  joined during history is active on a day with a probability that decays with the user's
  age in days (day 1 about 40 %, day 7 about 17 %, day 30 about 10 %, a stable tail near
  4 %); the initial users are an established core, active with a flat
  ``established_activity`` probability; both times an engagement factor and a
  weekday/weekend factor. New users start their first session at ``firstRun``.
- **Sessions.** Start times follow an hour-of-day curve in the user's local time; durations
  are log-normal (a few last more than 8 h); screens (states) hold events; a store funnel
  ``Open Store -> View Item -> Add To Cart -> Purchase`` that many start and few finish;
  ``Purchase`` carries revenue in ``value`` and ``currency``/``item`` parameters; message
  campaigns appear as ``.m<id>`` events in offline records (``isSession: false``) and
  ``.m<id> Open`` events in sessions; A/B experiments are assigned by ``userBucket`` and one
  variant (``Store Redesign`` / ``New Store``) really raises purchase conversion.
- **Quirks (spec 5.1, 7.6-7.8).** ``sessionId`` is a string; ids are signed 64-bit ints spread
  over the whole range, with exact ``-2**63`` (a stateId) and ``2**63 - 1`` (an eventId) in
  the first session of every day, whose sessionId is ``2**63 - 1 - day.toordinal()`` (the
  second's is ``-2**63 + day.toordinal()``); times are Java-style doubles
  (``1.591474962721E9``, as :class:`JavaFloat`) on about half the lines, plain decimals on
  the others, and strings on about 1 % of lines and on the third session of every day (every
  time field of such a line; each string holds either form); optional fields are omitted when
  empty or false (``isDeveloper`` only when true, ``prior*`` when zero, attribution when
  unknown); ``lat``/``lon`` are strings; city names are unicode; ``info`` fields and one
  user attribute sometimes hold commas, quotes and newlines; user attributes and event
  parameters are mostly strings (``"True"``, ``"5"``) but sometimes JSON numbers or booleans;
  an ``eventId`` repeats inside one session now and then (and in one session every day,
  the first from the second on with two events); every day's fourth session lasts more than
  8 hours when it can; ``timeUntilFirstForUser`` appears on a new user's first occurrence
  of each event and state name.
- **Availability (spec 7.1).** A session is available at the first 2-hour UTC grid point
  strictly after ``start + duration + 30 min``; about 3 % arrive late, 1 to 8 days after
  their start (on the grid too). Only sessions that ended by ``history_end`` exist.

A state without a ``name`` is synthetic (apps that never call ``advance``, and offline
records): the CSV writer leaves it out of the ``states`` files while its events keep its
``stateId``. Loaders reading JSON should do the same to match the CSV export.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import logging
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "DataConfig",
    "Generator",
    "JavaFloat",
    "SessionRecord",
    "java_double",
    "pause_gc",
]

logger = logging.getLogger(__name__)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

PACIFIC = ZoneInfo("America/Los_Angeles")
DAY = 86400.0
BATCH_SECONDS = 7200.0  # spec 7.1: 2-hour UTC availability grid
IDLE_SECONDS = 1800.0  # session closes 30 min after the app is paused (spec 4, D7)
# Releases happen on a fixed calendar so appVersion depends on time, not on the history window.
_RELEASE_EPOCH = datetime(2020, 1, 6, tzinfo=timezone.utc).timestamp()


_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def pause_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Building a day's sessions allocates hundreds of thousands of dicts and lists with no
    reference cycles; with a large live heap the collector's full passes cost 2-3x the
    generation itself. Nested and concurrent pauses are counted; the collector is enabled
    again by the last one out, and only if it was enabled before the first.
    """
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0 and _GC_WAS_ENABLED:
                gc.enable()


class JavaFloat(float):
    """A float that the JSON writer renders the way Java's ``Double.toString`` does.

    It behaves as a plain ``float`` everywhere else (arithmetic, ``json.dumps``).
    """

    __slots__ = ()


def java_double(x: float) -> str:
    """Return ``x`` as Java's ``Double.toString`` writes it (``1.591474962721E9``).

    Parameters
    ----------
    x : float
        The number.

    Returns
    -------
    str
        Plain decimal for ``1e-3 <= |x| < 1e7`` (as Java), computerised scientific notation
        with the shortest round-tripping digits otherwise.
    """
    if x != x or x in (math.inf, -math.inf):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    ax = abs(x)
    if ax == 0.0 or 1e-3 <= ax < 1e7:
        text = repr(float(x))
        return text if "e" not in text else _sci(x)
    return _sci(x)


def _sci(x: float) -> str:
    sign = "-" if x < 0 else ""
    r = repr(abs(float(x)))
    if "e" in r:
        mant, _, exp = r.partition("e")
        int_part, _, frac_part = mant.partition(".")
        digits = int_part + frac_part
        exponent = int(exp) + len(int_part) - 1
    else:
        int_part, _, frac_part = r.partition(".")
        if int_part.strip("0"):
            exponent = len(int_part.lstrip("0")) - 1
            digits = (int_part + frac_part).lstrip("0")
        else:
            stripped = frac_part.lstrip("0")
            exponent = -(len(frac_part) - len(stripped)) - 1
            digits = stripped
    digits = digits.rstrip("0") or "0"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


@dataclass(frozen=True)
class DataConfig:
    """Knobs of the synthetic data. Defaults give a small, lively app (~1000 sessions a day).

    Parameters
    ----------
    seed : int
        Seed of everything; same seed, same data.
    initial_users : int
        Users who exist before history starts (mostly in the retention tail).
    new_users_per_day : float
        New users on the first day of history; grows by ``growth`` per day.
    growth : float
        Daily growth of the new-user inflow.
    history_days : int
        Days of history ending at the history end's Pacific day (inclusive).
    late_fraction : float
        Share of sessions that arrive late (1 to 8 days after their start).
    uses_states : bool
        False: one synthetic (nameless) state per session, so CSV states files are header-only.
    sessions_per_active_day : float
        Mean sessions of a user on a day the user is active (>= 1).
    events_per_session : float
        Roughly the mean number of events in a session.
    offline_fraction : float
        Share of records that are offline activity (``isSession: false``, message sends).
    long_session_rate : float
        Share of sessions lasting more than 8 hours.
    string_time_rate : float
        Share of lines whose time fields are JSON strings.
    java_time_rate : float
        Share of lines (of the rest) whose times are written Java-style (``1.59E9``).
    duplicate_event_rate : float
        Share of sessions with a repeated ``eventId`` (besides the one forced per day).
    purchase_lift : float
        Purchase conversion multiplier of the effective experiment variant.
    message_open_rate : float
        Chance that an active recipient opens a message in the session that follows it.
    release_every_days : int
        Days between app releases (``appVersion`` rolls forward on this calendar).
    developer_rate : float
        Share of users flagged ``isDeveloper``.
    info_rate : float
        Share of events (and 1.5 x that of states) with an ``info`` text (unicode, commas,
        quotes, newlines).
    established_activity : float
        Daily activity probability of the initial users (the retained core of an app that
        existed before history starts), before engagement and weekday factors.
    """

    seed: int = 0
    initial_users: int = 1500
    new_users_per_day: float = 60.0
    growth: float = 0.01
    history_days: int = 90
    late_fraction: float = 0.03
    uses_states: bool = True
    sessions_per_active_day: float = 1.6
    events_per_session: float = 8.0
    offline_fraction: float = 0.03
    long_session_rate: float = 0.002
    string_time_rate: float = 0.01
    java_time_rate: float = 0.5
    duplicate_event_rate: float = 0.0005
    purchase_lift: float = 1.3
    message_open_rate: float = 0.4
    release_every_days: int = 14
    developer_rate: float = 0.005
    info_rate: float = 0.02
    established_activity: float = 0.25

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool]] = [
            ("initial_users must be >= 0", self.initial_users >= 0),
            ("new_users_per_day must be >= 0", self.new_users_per_day >= 0),
            ("growth must be > -1", self.growth > -1),
            ("history_days must be >= 1", self.history_days >= 1),
            ("late_fraction must be in [0, 1]", 0 <= self.late_fraction <= 1),
            ("sessions_per_active_day must be >= 1", self.sessions_per_active_day >= 1),
            ("events_per_session must be > 0", self.events_per_session > 0),
            ("offline_fraction must be in [0, 0.5]", 0 <= self.offline_fraction <= 0.5),
            ("long_session_rate must be in [0, 1]", 0 <= self.long_session_rate <= 1),
            ("string_time_rate must be in [0, 1]", 0 <= self.string_time_rate <= 1),
            ("java_time_rate must be in [0, 1]", 0 <= self.java_time_rate <= 1),
            ("duplicate_event_rate must be in [0, 1]", 0 <= self.duplicate_event_rate <= 1),
            ("purchase_lift must be > 0", self.purchase_lift > 0),
            ("message_open_rate must be in [0, 1]", 0 <= self.message_open_rate <= 1),
            ("release_every_days must be >= 1", self.release_every_days >= 1),
            ("developer_rate must be in [0, 1]", 0 <= self.developer_rate <= 1),
            ("info_rate must be in [0, 0.5]", 0 <= self.info_rate <= 0.5),
            ("established_activity must be in [0, 1]", 0 <= self.established_activity <= 1),
        ]
        for message, ok in checks:
            if not ok:
                raise ValueError(f"DataConfig: {message}")


@dataclass(frozen=True)
class SessionRecord:
    """One session (or offline record) as the simulator stores it.

    Attributes
    ----------
    start : float
        Session start, Unix seconds UTC.
    available_at : float
        When the session became exportable (spec 7.1), Unix seconds UTC; always > start.
    line : dict
        The session exactly as it goes into a JSON export line (spec 5.1), quirks included.
        Times may be :class:`JavaFloat` (write with :func:`writers.write_json`) or strings.
    """

    start: float
    available_at: float
    line: dict[str, Any]


# --- static tables -----------------------------------------------------------------------

# (country, region, city, lat, lon, locale, timezone, weight, currency)
_CITIES: tuple[tuple[str, str, str, float, float, str, str, float, str], ...] = (
    ("US", "CA", "San Francisco", 37.7749, -122.4194, "en_US", "America/Los_Angeles", 9, "USD"),
    ("US", "NY", "New York", 40.7128, -74.0060, "en_US", "America/New_York", 10, "USD"),
    ("US", "TX", "Austin", 30.2672, -97.7431, "en_US", "America/Chicago", 5, "USD"),
    ("CA", "QC", "Montréal", 45.5019, -73.5674, "fr_CA", "America/Toronto", 2, "CAD"),
    ("GB", "ENG", "London", 51.5074, -0.1278, "en_GB", "Europe/London", 6, "GBP"),
    ("DE", "BY", "München", 48.1351, 11.5820, "de_DE", "Europe/Berlin", 5, "EUR"),
    ("FR", "IDF", "Paris", 48.8566, 2.3522, "fr_FR", "Europe/Paris", 4, "EUR"),
    ("ES", "GA", "A Coruña", 43.3623, -8.4115, "es_ES", "Europe/Madrid", 2, "EUR"),
    ("TR", "34", "İstanbul", 41.0082, 28.9784, "tr_TR", "Europe/Istanbul", 3, "TRY"),
    ("BR", "SP", "São Paulo", -23.5505, -46.6333, "pt_BR", "America/Sao_Paulo", 6, "BRL"),
    ("MX", "CMX", "Ciudad de México", 19.4326, -99.1332, "es_MX", "America/Mexico_City", 4, "MXN"),
    ("IN", "KA", "Bengaluru", 12.9716, 77.5946, "en_IN", "Asia/Kolkata", 6, "INR"),
    ("JP", "13", "東京", 35.6762, 139.6503, "ja_JP", "Asia/Tokyo", 5, "JPY"),
    ("KR", "11", "서울", 37.5665, 126.9780, "ko_KR", "Asia/Seoul", 2, "KRW"),
    ("AU", "NSW", "Sydney", -33.8688, 151.2093, "en_AU", "Australia/Sydney", 3, "AUD"),
)

# Local hour-of-day activity (night trough, evening peak).
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 9, 8, 7, 7, 8, 9, 11, 13, 14, 12, 8, 4)
_HOUR_MAX = max(_HOUR_WEIGHTS)

_IOS_MODELS = ("iPhone 13", "iPhone 14", "iPhone 15 Pro", "iPhone 16", "iPhone SE", "iPad Air")
_IOS_VERSIONS = ("16.7.8", "17.5.1", "17.6", "18.1", "18.3.2")
_ANDROID_MODELS = ("Pixel 7", "Pixel 8 Pro", "SM-S911B", "SM-A546E", "Redmi Note 12", "moto g84")
_ANDROID_VERSIONS = ("12", "13", "14", "15")
_WEB_OS = (("Windows", "10"), ("Windows", "11"), ("Mac OS", "14.5"), ("Linux", "6.8"))
_BROWSERS = (
    ("Chrome", ("124.0", "126.0", "128.0")),
    ("Firefox", ("125.0", "128.0")),
    ("Safari", ("17.4", "17.6")),
    ("Edge", ("126.0",)),
)

_PLANS = (("free", 0.72), ("trial", 0.12), ("premium", 0.16))
_AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55+")
_NICKNAMES = ("Zoë", "Łukasz", "Ana María", "Jürgen", "さくら", "O'Brien", "D'Artagnan")
_QUOTES = (
    'He said "hi", then left',
    "line one\nline two, with a comma",
    'tab\tand "quotes", commas, and a\r\nCRLF',
)
_INFO_TEXTS = (
    'Tapped "Buy", then cancelled',
    "multi-line note\nsecond line, with comma",
    "Zürich → 東京 ✓",
    'quote " and, comma\r\nCRLF line',
    "emoji 🎉, naïve café",
)
_SOURCES = (
    (
        "1234567",
        "Facebook Ads",
        "Instagram",
        "instagram.com",
        "Spring Sale, 2026",
        "US-18-34",
        "Carousel A",
    ),
    ("7654321", "Google Ads", "YouTube", "youtube.com", 'Brand "Always On"', "Search", "Text 3"),
    ("555", "Apple Search Ads", "", "", "Games", "Exact", ""),
    ("9001", "TikTok for Business", "Pangle", "", "Summer launch", "", "Video 12"),
)
_ITEMS = (
    ("Gold Pack", 4.99),
    ("Gem Bundle", 9.99),
    ("Starter Kit", 0.99),
    ("Premium Month", 19.99),
    ("Épée de feu", 2.99),
)
_GENERIC_SCREENS = (
    ("Feed", 5.0),
    ("Profile", 2.0),
    ("Settings", 1.0),
    ("Level", 4.0),
    ("Store", 2.6),
)
_SCREEN_EVENTS: dict[str, tuple[str, ...]] = {
    "Home": ("Tap", "Scroll", "Search"),
    "Feed": ("Scroll", "Like", "Share", "Tap"),
    "Profile": ("Edit Profile", "Tap"),
    "Settings": ("Toggle Setting", "Tap"),
    "Level": ("Level Start", "Level Complete", "Tap"),
}
_SEARCHES = ("swords", "gold, cheap", "épée", 'best "deal"', "pack")

# Retention curve: P(active | age a >= 1) = floor + (day1 - floor) * a**-decay.
_RET_FLOOR = 0.04
_RET_DAY1 = 0.40
_RET_DECAY = 0.55
_WEEKEND_ACTIVITY = 1.18
_WEEKDAY_ACTIVITY = 0.93
_WEEKEND_NEW = 1.2
_WEEKDAY_NEW = 0.92


def _retention(age: int) -> float:
    if age <= 0:
        return 1.0
    return _RET_FLOOR + (_RET_DAY1 - _RET_FLOOR) * age**-_RET_DECAY


def _expected_active_days(age: int) -> float:
    """Approximate sum of ``_retention(j)`` for ``j`` in ``1..age-1`` (closed form)."""
    n = max(0, age - 1)
    if n == 0:
        return 0.0
    tail = (n ** (1 - _RET_DECAY) - 1) / (1 - _RET_DECAY) + 1
    return _RET_FLOOR * n + (_RET_DAY1 - _RET_FLOOR) * tail


def _cum(weights: tuple[float, ...] | list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


_CITY_CUM = _cum([c[7] for c in _CITIES])
_PLAN_CUM = _cum([p[1] for p in _PLANS])
_SCREEN_CUM = _cum([s[1] for s in _GENERIC_SCREENS])


def _pick(rng: random.Random, cum: list[float]) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def _i64(rng: random.Random) -> int:
    return rng.getrandbits(64) + INT64_MIN


@dataclass(frozen=True)
class _Experiment:
    name: str
    exp_id: int
    variant_ids: tuple[int, ...]
    variant_names: tuple[str, ...]
    lifts: tuple[float, ...]  # purchase conversion multiplier per variant
    start: float  # Unix seconds the experiment starts
    assignment: bytes  # variant index per userBucket 0..999


@dataclass(slots=True)
class _User:
    index: int
    user_id: str
    device_id: str
    bucket: int
    first_run: float
    created: int  # Pacific date ordinal of first_run
    client: str
    sdk_base: int
    system_name: str
    system_version: str
    device_model: str
    browser: tuple[str, str] | None
    city: int
    lat: str | None
    lon: str | None
    engagement: float
    payer: float
    update_lag: int
    level_rate: float
    level_as_text: bool
    attributes: dict[str, Any] | None
    is_developer: bool
    source: dict[str, str] | None


def _draw_device(
    rng: random.Random,
) -> tuple[str, str, str, str, str, tuple[str, str] | None]:
    """A user's platform: client, OS name and version, model, device id, browser."""
    u = rng.random()
    browser: tuple[str, str] | None = None
    if u < 0.45:
        client, system_name = "ios", "iOS"
        system_version = rng.choice(_IOS_VERSIONS)
        device_model = rng.choice(_IOS_MODELS)
        device_id = f"{rng.getrandbits(128):032X}"
        device_id = "-".join(
            (device_id[:8], device_id[8:12], device_id[12:16], device_id[16:20], device_id[20:])
        )
    elif u < 0.85:
        client, system_name = "android", "Android OS"
        system_version = rng.choice(_ANDROID_VERSIONS)
        device_model = rng.choice(_ANDROID_MODELS)
        device_id = f"{rng.getrandbits(64):016x}"
    else:
        client = "js"
        system_name, system_version = rng.choice(_WEB_OS)
        device_model = "Web Browser"
        bname, versions = rng.choice(_BROWSERS)
        browser = (bname, rng.choice(versions))
        device_id = f"web-{rng.getrandbits(96):024x}"
    return client, system_name, system_version, device_model, device_id, browser


def _draw_attributes(rng: random.Random, plan: str) -> dict[str, Any] | None:
    """A user's attributes (5 % have none); draws after the level-as-text flag."""
    attributes: dict[str, Any] | None = None
    if rng.random() < 0.95:
        attributes = {
            "plan": plan,
            "ageGroup": rng.choice(_AGE_GROUPS),
            "pushEnabled": "True" if rng.random() < 0.55 else "False",
        }
        if rng.random() < 0.3:
            attributes["newsletter"] = rng.random() < 0.5  # a JSON boolean
        if rng.random() < 0.2:
            attributes["nickname"] = rng.choice(_NICKNAMES)
        if rng.random() < 0.03:
            attributes["favoriteQuote"] = rng.choice(_QUOTES)
    return attributes


def _draw_source(rng: random.Random) -> dict[str, str] | None:
    """The install source of about a third of the users."""
    source = None
    if rng.random() < 0.35:
        s = rng.choice(_SOURCES)
        names = (
            "sourcePublisherId",
            "sourcePublisher",
            "sourceSubPublisher",
            "sourceSite",
            "sourceCampaign",
            "sourceAdGroup",
            "sourceAd",
        )
        source = {n: v for n, v in zip(names, s, strict=True) if v}
    return source


class Generator:
    """Deterministic synthetic sessions of one app.

    Parameters
    ----------
    config : DataConfig
        Data knobs.
    app_number : int
        The app's 16-digit numeric key; part of every seed so apps differ.
    history_end : float
        Unix seconds, end of the simulated history; no session ends after it.
    cache_days : int, optional
        How many generated days to keep in memory (least recently used first out).
    """

    def __init__(
        self, config: DataConfig, app_number: int, history_end: float, *, cache_days: int = 8
    ) -> None:
        self.config = config
        self.app_number = app_number
        self.history_end = float(history_end)
        self.end_day = datetime.fromtimestamp(self.history_end, PACIFIC).date()
        self.first_day = self.end_day - timedelta(days=config.history_days - 1)
        self.history_start = _day_start(self.first_day)
        self._cache_days = max(1, cache_days)
        self._cache: OrderedDict[date, list[SessionRecord]] = OrderedDict()
        self._users: dict[int, _User] = {}
        self._lock = threading.RLock()
        self._key = f"{config.seed}:{app_number}"
        # New users per history day: deterministic schedule, so any day knows who exists.
        counts = []
        for k in range(config.history_days):
            day = self.first_day + timedelta(days=k)
            noise = random.Random(f"lpsim-new:{self._key}:{day.isoformat()}").uniform(0.85, 1.15)
            dow = _WEEKEND_NEW if day.weekday() >= 5 else _WEEKDAY_NEW
            counts.append(round(config.new_users_per_day * (1 + config.growth) ** k * dow * noise))
        self._new_counts = counts
        self._offsets = [config.initial_users]  # index of the first user created on day k
        for n in counts:
            self._offsets.append(self._offsets[-1] + n)
        self.total_users = self._offsets[-1]
        rng = random.Random(f"lpsim-static:{self._key}")
        self._experiments = self._make_experiments(rng)
        self._campaigns = tuple(rng.randrange(10**15, 10**16) for _ in range(4))

    # --- public API ---------------------------------------------------------------------

    @property
    def days(self) -> list[date]:
        """The Pacific days of history, oldest first."""
        return [self.first_day + timedelta(days=k) for k in range(self.config.history_days)]

    def sessions_for_day(self, day: date) -> list[SessionRecord]:
        """Return every session (and offline record) whose start falls on a Pacific day.

        Parameters
        ----------
        day : datetime.date
            A Pacific (America/Los_Angeles) calendar day.

        Returns
        -------
        list of SessionRecord
            Sorted by start; empty outside history. Deterministic per (seed, app, day),
            independent of call order; the returned list is shared, do not mutate it.
        """
        if not isinstance(day, date) or isinstance(day, datetime):
            raise TypeError(f"day must be a datetime.date, got {type(day).__name__}")
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
            records: list[SessionRecord] = []
            if self.first_day <= day <= self.end_day:
                with pause_gc():
                    records = self._generate_day(day)
            self._cache[day] = records
            while len(self._cache) > self._cache_days:
                self._cache.popitem(last=False)
            return records

    def experiments(self) -> list[dict[str, Any]]:
        """Describe the A/B experiments (for notebooks and tests).

        Returns
        -------
        list of dict
            Keys ``name``, ``id``, ``variants`` (list of ``{"id", "name", "purchase_lift"}``)
            and ``start`` (Unix seconds).
        """
        return [
            {
                "name": e.name,
                "id": e.exp_id,
                "start": e.start,
                "variants": [
                    {"id": v, "name": n, "purchase_lift": lift}
                    for v, n, lift in zip(e.variant_ids, e.variant_names, e.lifts, strict=True)
                ],
            }
            for e in self._experiments
        ]

    def message_ids(self) -> tuple[int, ...]:
        """Return the message campaign ids (events ``.m<id>`` and ``.m<id> Open``)."""
        return self._campaigns

    # --- population --------------------------------------------------------------------

    def _make_experiments(self, rng: random.Random) -> tuple[_Experiment, ...]:
        specs = (
            ("Store Redesign", ("Control", "New Store"), (1.0, self.config.purchase_lift), 0),
            ("Onboarding Tutorial", ("Short", "Long"), (1.0, 1.0), 0),
            (
                "Push Copy",
                ("Control", "Friendly", "Urgent"),
                (1.0, 1.0, 1.0),
                self.config.history_days // 2,
            ),
        )
        out = []
        for name, variants, lifts, start_k in specs:
            exp_id = rng.randrange(2**40, 2**63)
            # Sorted so the control (listed first) has the lowest id: analyses that default
            # to "the lowest variantId is the control" then compare against the real control.
            variant_ids = tuple(sorted(rng.randrange(2**40, 2**63) for _ in variants))
            assign = bytes(rng.randrange(len(variants)) for _ in range(1000))
            start = _day_start(self.first_day + timedelta(days=start_k))
            out.append(_Experiment(name, exp_id, variant_ids, variants, lifts, start, assign))
        return tuple(out)

    def _user(self, index: int) -> _User:
        user = self._users.get(index)
        if user is None:
            user = self._make_user(index)
            self._users[index] = user
        return user

    def _make_user(self, index: int) -> _User:
        rng = random.Random(f"lpsim-user:{self._key}:{index}")
        city = _pick(rng, _CITY_CUM)
        if index < self.config.initial_users:
            first_run = self.history_start - rng.uniform(1.0, 400.0) * DAY
        else:
            k = bisect.bisect_right(self._offsets, index) - 1
            day = self.first_day + timedelta(days=k)
            first_run = _draw_start(
                rng, _day_start(day), _day_start(day + timedelta(days=1)), _CITIES[city][6]
            )
        first_run = round(first_run, 3)
        created = datetime.fromtimestamp(first_run, PACIFIC).date().toordinal()
        has_location = rng.random() < 0.9
        lat = lon = None
        if has_location:
            c = _CITIES[city]
            lat = f"{c[3] + rng.uniform(-0.05, 0.05):.4f}"
            lon = f"{c[4] + rng.uniform(-0.05, 0.05):.4f}"
        client, system_name, system_version, device_model, device_id, browser = _draw_device(rng)
        plan = _PLANS[_pick(rng, _PLAN_CUM)][0]
        level_as_text = rng.random() < 0.6
        attributes = _draw_attributes(rng, plan)
        source = _draw_source(rng)
        payer = {"free": 0.8, "trial": 1.1, "premium": 1.6}[plan]
        return _User(
            index=index,
            user_id=f"U{rng.getrandbits(48):012x}",
            device_id=device_id,
            bucket=rng.randrange(1000),
            first_run=first_run,
            created=created,
            client=client,
            sdk_base=rng.randrange(3),
            system_name=system_name,
            system_version=system_version,
            device_model=device_model,
            browser=browser,
            city=city,
            lat=lat,
            lon=lon,
            engagement=math.exp(rng.gauss(-0.08, 0.4)),
            payer=payer,
            update_lag=0 if client == "js" else _pick(rng, [0.5, 0.8, 0.95, 1.0]),
            level_rate=rng.uniform(0.2, 1.5),
            level_as_text=level_as_text,
            attributes=attributes,
            is_developer=rng.random() < self.config.developer_rate,
            source=source,
        )

    # --- one day -----------------------------------------------------------------------

    def _generate_day(self, day: date) -> list[SessionRecord]:
        cfg = self.config
        rng = random.Random(f"lpsim-day:{self._key}:{day.isoformat()}")
        d0 = _day_start(day)
        d1 = _day_start(day + timedelta(days=1))
        k = (day - self.first_day).days
        ordinal = day.toordinal()
        weekend = day.weekday() >= 5
        act = _WEEKEND_ACTIVITY if weekend else _WEEKDAY_ACTIVITY
        p_more = 1.0 - 1.0 / cfg.sessions_per_active_day
        # (start, user) of every session of the day.
        plan: list[tuple[float, _User, int]] = []
        existing = self._offsets[k + 1]
        n_initial = cfg.initial_users
        established = cfg.established_activity
        for index in range(existing):
            user = self._user(index)
            age = ordinal - user.created
            if age < 0:
                continue  # created later today (cannot happen) or tomorrow in Pacific time
            if age == 0:
                n = 1
                while rng.random() < p_more:
                    n += 1
                tz = _CITIES[user.city][6]
                starts = [user.first_run] + [
                    _draw_start(rng, d0, d1, tz, not_before=user.first_run) for _ in range(n - 1)
                ]
            else:
                base = established if index < n_initial else _retention(age)
                if rng.random() >= min(0.97, base * user.engagement * act):
                    continue
                n = 1
                while rng.random() < p_more:
                    n += 1
                tz = _CITIES[user.city][6]
                starts = [_draw_start(rng, d0, d1, tz) for _ in range(n)]
            starts.sort()
            for i, s in enumerate(starts):
                plan.append((s, user, i))
        plan.sort(key=lambda p: (p[0], p[1].index))

        # Message sends (offline records), decided before sessions so opens can follow them.
        n_sessions = len(plan)
        rate = cfg.offline_fraction / (1.0 - cfg.offline_fraction) if cfg.offline_fraction else 0
        sends: list[tuple[float, _User, int]] = []  # (time, user, message id)
        opens: dict[int, int] = {}  # plan position -> message id opened in that session
        for _ in range(n_sessions):
            if rng.random() >= rate:
                continue
            msg = self._campaigns[(ordinal + rng.randrange(2)) % len(self._campaigns)]
            if rng.random() < 0.5:
                target = rng.randrange(n_sessions)
                s, user, _ = plan[target]
                sent = round(rng.uniform(max(d0, s - 6 * 3600.0), s), 3)
                sends.append((sent, user, msg))
                if rng.random() < cfg.message_open_rate and target not in opens:
                    opens[target] = msg
            else:
                user = self._user(rng.randrange(existing))
                sends.append((round(rng.uniform(d0, d1 - 0.001), 3), user, msg))

        records: list[SessionRecord] = []
        seen_first: dict[int, set[str]] = {}  # per new user: names already seen today
        for pos, (start, user, nth) in enumerate(plan):
            rec = self._session(rng, day, start, user, nth, opens.get(pos), seen_first)
            if rec is not None:
                records.append(rec)
        for sent, user, msg in sends:
            if sent < user.first_run:
                continue
            rec = self._offline(rng, sent, user, msg)
            if rec is not None:
                records.append(rec)
        records.sort(key=lambda r: (r.start, r.line["sessionId"]))
        self._force_quirks(rng, records, ordinal)
        logger.debug("generated %d records for %s", len(records), day)
        return records

    def _force_quirks(self, rng: random.Random, records: list[SessionRecord], ordinal: int) -> None:
        """Put the rare quirks on fixed sessions of every day, so any range shows them."""
        sessions = [r for r in records if r.line["isSession"]]
        if not sessions:
            return
        first = sessions[0].line
        first["sessionId"] = str(INT64_MAX - ordinal)
        state = first["states"][0]
        state["stateId"] = INT64_MIN
        if state.get("events"):
            state["events"][0]["eventId"] = INT64_MAX
        if len(sessions) > 1:
            sessions[1].line["sessionId"] = str(INT64_MIN + ordinal)
        # A repeated eventId inside one session.
        for rec in sessions[1:] + sessions[:1]:
            events = [e for s in rec.line["states"] for e in s.get("events", ())]
            if len(events) >= 2:
                events[1]["eventId"] = events[0]["eventId"]
                break
        # String times on one line a day.
        if len(sessions) > 2:
            _restyle_times(sessions[2].line, "string")
        # A session longer than 8 hours a day, when it can have ended by history_end.
        if len(sessions) > 3:
            rec = sessions[3]
            duration = round(rng.uniform(8 * 3600.0, 11 * 3600.0), 3)
            if rec.start + duration <= self.history_end:
                rec.line["duration"] = duration
                i = records.index(rec)
                records[i] = SessionRecord(
                    rec.start, self._available(rng, rec.start, duration), rec.line
                )

    def _session(
        self,
        rng: random.Random,
        day: date,
        start: float,
        user: _User,
        nth: int,
        open_msg: int | None,
        seen_first: dict[int, set[str]],
    ) -> SessionRecord | None:
        cfg = self.config
        start = round(start, 3)
        if rng.random() < cfg.long_session_rate:
            duration = round(rng.uniform(8 * 3600.0, 11 * 3600.0), 3)
        else:
            duration = round(min(4 * 3600.0, math.exp(rng.gauss(5.2, 1.0))), 3)
        if start + duration > self.history_end:
            return None
        age = day.toordinal() - user.created
        lift = 1.0
        experiments = []
        for e in self._experiments:
            if start >= e.start:
                v = e.assignment[user.bucket]
                lift *= e.lifts[v]
                item: dict[str, Any] = {"id": e.exp_id, "variantId": e.variant_ids[v]}
                if rng.random() < 0.5:
                    item["impressed"] = True
                experiments.append(item)
        first_names = seen_first.setdefault(user.index, set()) if age == 0 else None
        states = self._content(rng, start, duration, user, lift, open_msg, first_names)
        line = self._header(rng, start, user)
        line["duration"] = duration
        line["isSession"] = True
        _add_location(line, user, start)
        _add_device(line, user, start, self.config.release_every_days)
        prior = int(
            cfg.sessions_per_active_day * (1 + user.engagement * _expected_active_days(age))
        )
        prior = (prior if age > 0 else 0) + nth
        if prior:
            line["priorSessions"] = prior
            line["priorEvents"] = int(prior * cfg.events_per_session * 1.1)
            if cfg.uses_states:
                line["priorStates"] = int(prior * 3.5)
            line["priorTimeSpentInApp"] = round(prior * 240.0 * user.engagement, 3)
        if user.source:
            line.update(user.source)
        attrs = _attributes(user, age)
        if attrs:
            line["userAttributes"] = attrs
        if experiments:
            line["experiments"] = experiments
        line["states"] = states
        _style_times(rng, line, cfg)
        if rng.random() < cfg.duplicate_event_rate:
            events = [e for s in states for e in s.get("events", ())]
            if len(events) >= 2:
                events[-1]["eventId"] = events[0]["eventId"]
        return SessionRecord(start, self._available(rng, start, duration), line)

    def _offline(
        self, rng: random.Random, sent: float, user: _User, msg: int
    ) -> SessionRecord | None:
        if sent > self.history_end:
            return None
        day = datetime.fromtimestamp(sent, PACIFIC).date()
        age = day.toordinal() - user.created
        line = self._header(rng, sent, user)
        line["duration"] = 0.0
        line["isSession"] = False
        _add_location(line, user, sent)
        attrs = _attributes(user, age)
        if attrs:
            line["userAttributes"] = attrs
        line["states"] = [
            {
                "stateId": _i64(rng),
                "events": [{"eventId": _i64(rng), "name": f".m{msg}", "time": sent, "value": 0.0}],
            }
        ]
        _style_times(rng, line, self.config)
        return SessionRecord(sent, self._available(rng, sent, 0.0), line)

    def _header(self, rng: random.Random, start: float, user: _User) -> dict[str, Any]:
        line: dict[str, Any] = {
            "sessionId": str(_i64(rng)),
            "userId": user.user_id,
            "deviceId": user.device_id,
            "userBucket": user.bucket,
            "time": start,
            "firstRun": user.first_run,
        }
        if user.is_developer:
            line["isDeveloper"] = True
        return line

    def _available(self, rng: random.Random, start: float, duration: float) -> float:
        ready = start + duration + IDLE_SECONDS
        normal = (math.floor(ready / BATCH_SECONDS) + 1) * BATCH_SECONDS
        if rng.random() < self.config.late_fraction:
            t = start + rng.uniform(1.0, 8.0) * DAY
            return max(math.floor(t / BATCH_SECONDS) * BATCH_SECONDS, normal)
        return normal

    def _content(
        self,
        rng: random.Random,
        start: float,
        duration: float,
        user: _User,
        lift: float,
        open_msg: int | None,
        first_names: set[str] | None,
    ) -> list[dict[str, Any]]:
        """States (screens) with their events; a funnel visit when the user enters the store."""
        cfg = self.config
        budget = 1 + int(rng.expovariate(1.0 / max(cfg.events_per_session - 1.0, 0.1)))
        screens: list[tuple[str, list[tuple[str, dict[str, Any] | None, float]]]] = []
        home: list[tuple[str, dict[str, Any] | None, float]] = []
        if open_msg is not None:
            home.append((f".m{open_msg} Open", None, 0.0))
        screens.append(("Home", home))
        n_home = min(budget, 1 + int(rng.expovariate(0.8)))
        for _ in range(n_home):
            home.append(self._generic_event(rng, "Home"))
        budget -= n_home
        while budget > 0:
            name = _GENERIC_SCREENS[_pick(rng, _SCREEN_CUM)][0]
            if name == "Store":
                budget -= self._funnel(rng, screens, user, lift)
                continue
            n = min(budget, 1 + int(rng.expovariate(0.7)))
            screens.append((name, [self._generic_event(rng, name) for _ in range(n)]))
            budget -= n
        # Lay the screens out over the session: each one starts after the previous.
        n_screens = len(screens)
        cuts = sorted(rng.random() for _ in range(n_screens - 1))
        bounds = [0.0, *cuts, 1.0]
        states: list[dict[str, Any]] = []
        synthetic: dict[str, Any] | None = None
        if not cfg.uses_states:
            synthetic = {"stateId": _i64(rng), "events": []}
            states.append(synthetic)
        for i, (name, events) in enumerate(screens):
            s_time = round(start + duration * bounds[i], 3)
            s_dur = round(duration * (bounds[i + 1] - bounds[i]), 3)
            times = sorted(rng.random() for _ in events)
            out_events = []
            for (ename, params, value), frac in zip(events, times, strict=True):
                t = round(s_time + s_dur * frac, 3)
                ev: dict[str, Any] = {"eventId": _i64(rng), "name": ename, "time": t}
                if value or rng.random() < 0.85:
                    ev["value"] = value
                if rng.random() < cfg.info_rate:
                    ev["info"] = rng.choice(_INFO_TEXTS)
                if first_names is not None and ename not in first_names:
                    first_names.add(ename)
                    ev["timeUntilFirstForUser"] = round(t - user.first_run, 3)
                if params:
                    ev["parameters"] = params
                out_events.append(ev)
            if synthetic is not None:
                synthetic["events"].extend(out_events)
                continue
            state: dict[str, Any] = {
                "stateId": _i64(rng),
                "name": name,
                "time": s_time,
                "duration": s_dur,
            }
            if rng.random() < 1.5 * cfg.info_rate:
                state["info"] = rng.choice(_INFO_TEXTS)
            if first_names is not None and name not in first_names:
                first_names.add(name)
                state["timeUntilFirstForUser"] = round(s_time - user.first_run, 3)
            if name == "Feed" and rng.random() < 0.5:
                state["parameters"] = {"tab": rng.choice(("forYou", "following"))}
            if out_events:
                state["events"] = out_events
            states.append(state)
        if synthetic is not None and not synthetic["events"]:
            del synthetic["events"]
        return states

    def _generic_event(
        self, rng: random.Random, screen: str
    ) -> tuple[str, dict[str, Any] | None, float]:
        name = rng.choice(_SCREEN_EVENTS[screen])
        params: dict[str, Any] | None = None
        if name in ("Level Start", "Level Complete"):
            level = rng.randrange(1, 60)
            params = {"level": level if rng.random() < 0.5 else str(level)}
            if name == "Level Complete":
                params["stars"] = rng.randrange(1, 4)
        elif name == "Search":
            params = {"query": rng.choice(_SEARCHES)}
        elif name == "Share":
            params = {"channel": rng.choice(("sms", "whatsapp", "copy link"))}
        elif name == "Toggle Setting":
            params = {"setting": "darkMode", "enabled": rng.random() < 0.5}
        return name, params, 0.0

    def _funnel(
        self,
        rng: random.Random,
        screens: list[tuple[str, list[tuple[str, dict[str, Any] | None, float]]]],
        user: _User,
        lift: float,
    ) -> int:
        """Add a store visit; return the number of events it used."""
        store: list[tuple[str, dict[str, Any] | None, float]] = [
            ("Open Store", {"source": rng.choice(("home", "push", "banner"))}, 0.0)
        ]
        screens.append(("Store", store))
        used = 1
        if rng.random() >= 0.6:
            return used
        name, price = _ITEMS[rng.randrange(len(_ITEMS))]
        views: list[tuple[str, dict[str, Any] | None, float]] = []
        for _ in range(1 + int(rng.expovariate(1.5))):
            price_value: Any = price if rng.random() < 0.5 else f"{price}"
            views.append(("View Item", {"item": name, "price": price_value}, 0.0))
        screens.append(("Item", views))
        used += len(views)
        if rng.random() >= 0.4:
            return used
        qty = 1 if rng.random() < 0.85 else 2
        views.append(
            (
                "Add To Cart",
                {"item": name, "quantity": qty if rng.random() < 0.5 else str(qty)},
                0.0,
            )
        )
        used += 1
        if rng.random() >= min(0.95, 0.3 * user.payer * lift):
            return used
        currency = _CITIES[user.city][8] if rng.random() < 0.3 else "USD"
        purchase = (
            "Purchase",
            {"item": name, "currency": currency, "quantity": qty},
            round(price * qty, 2),
        )
        screens.append(("Checkout", [purchase]))
        return used + 1


# --- helpers -------------------------------------------------------------------------------


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=PACIFIC).timestamp()


_OFFSET_CACHE: dict[tuple[str, int], int] = {}


def _tz_offset(tz_name: str, t: float) -> int:
    """UTC offset in seconds of ``tz_name`` at ``t`` (cached per hour)."""
    key = (tz_name, int(t // 3600))
    off = _OFFSET_CACHE.get(key)
    if off is None:
        delta = datetime.fromtimestamp(key[1] * 3600, ZoneInfo(tz_name)).utcoffset()
        off = int(delta.total_seconds()) if delta is not None else 0
        if len(_OFFSET_CACHE) > 200_000:
            _OFFSET_CACHE.clear()
        _OFFSET_CACHE[key] = off
    return off


def _draw_start(
    rng: random.Random, d0: float, d1: float, tz: str, not_before: float | None = None
) -> float:
    """A start time in ``[d0, d1)`` (one Pacific day) following the local hour-of-day curve."""
    off = _tz_offset(tz, d0 + 43200.0)
    lo = d0 if not_before is None else max(d0, not_before)
    hi = d1 - 0.001
    if lo >= hi:
        return lo
    for _ in range(64):
        t = lo + rng.random() * (hi - lo)
        hour = int(((t + off) % 86400) // 3600)
        if rng.random() * _HOUR_MAX < _HOUR_WEIGHTS[hour]:
            return t
    return t


def _add_location(line: dict[str, Any], user: _User, t: float) -> None:
    c = _CITIES[user.city]
    line["country"] = c[0]
    if user.lat is not None:
        line["region"] = c[1]
        line["city"] = c[2]
        line["lat"] = user.lat
        line["lon"] = user.lon
    line["locale"] = c[5]
    line["timezone"] = c[6]
    line["timezoneOffsetSeconds"] = _tz_offset(c[6], t)


def _add_device(line: dict[str, Any], user: _User, t: float, release_days: int) -> None:
    release = int((t - _RELEASE_EPOCH) // (release_days * DAY)) - user.update_lag
    line["appVersion"] = f"{2 + release // 20}.{release % 20}.{release % 3}"
    line["client"] = user.client
    sdk_minor = release // 8 + user.sdk_base
    sdk_major = {"ios": 6, "android": 7, "js": 1}[user.client]
    line["sdkVersion"] = f"{sdk_major}.{sdk_minor % 10}.{user.sdk_base}"
    line["systemName"] = user.system_name
    line["systemVersion"] = user.system_version
    line["deviceModel"] = user.device_model
    if user.browser is not None:
        line["browserName"] = user.browser[0]
        line["browserVersion"] = user.browser[1]


def _attributes(user: _User, age: int) -> dict[str, Any] | None:
    if user.attributes is None:
        return None
    attrs = dict(user.attributes)
    level = 1 + int(max(age, 0) ** 0.7 * user.level_rate)
    attrs["level"] = str(level) if user.level_as_text else level
    return attrs


def _time_fields(line: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    out: list[tuple[dict[str, Any], str]] = [(line, "time"), (line, "firstRun")]
    for state in line.get("states", ()):
        if "time" in state:
            out.append((state, "time"))
        for ev in state.get("events", ()):
            out.append((ev, "time"))
    return out


def _restyle_times(line: dict[str, Any], style: str) -> None:
    for obj, key in _time_fields(line):
        v = float(obj[key])
        if style == "string":
            # Half of the string-time lines quote the Java form, half the plain decimal.
            obj[key] = java_double(v) if int(v * 1000) % 2 else repr(v)
        elif style == "java":
            obj[key] = JavaFloat(v)
        else:
            obj[key] = v


def _style_times(rng: random.Random, line: dict[str, Any], cfg: DataConfig) -> None:
    u = rng.random()
    if u < cfg.string_time_rate:
        _restyle_times(line, "string")
    elif rng.random() < cfg.java_time_rate:
        _restyle_times(line, "java")
