"""Apps the simulator serves: ids, keys and numeric app keys, derived from a seed."""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass, field

from .generator import DataConfig

__all__ = ["AppConfig", "make_apps"]

_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class AppConfig:
    """One simulated Leanplum app.

    Parameters
    ----------
    app_id : str
        The ``appId`` clients send, shaped like Leanplum's (``app_`` + 43 base64url chars).
    export_key : str
        The Data Export ``clientKey`` (``exp_...``). Never shown in the repr.
    app_number : int
        The app's 16-digit numeric key, used in job ids and file names.
    data : DataConfig
        The synthetic data configuration for this app.
    """

    app_id: str
    export_key: str = field(repr=False)
    app_number: int
    data: DataConfig = field(default_factory=DataConfig)


def make_apps(seed: int, n_apps: int, data: DataConfig) -> list[AppConfig]:
    """Derive ``n_apps`` apps deterministically from ``seed``, all sharing ``data``.

    Same seed, same ids, keys and app numbers; different seeds give different ones.
    """
    if n_apps < 1:
        raise ValueError(f"n_apps must be at least 1, got {n_apps}")
    rng = random.Random(f"leanplum-simulator-apps:{seed}")
    apps = []
    for _ in range(n_apps):
        app_id = "app_" + base64.urlsafe_b64encode(rng.randbytes(33)).decode()[:43]
        export_key = "exp_" + "".join(rng.choice(_KEY_ALPHABET) for _ in range(43))
        app_number = rng.randrange(10**15, 10**16)
        apps.append(AppConfig(app_id, export_key, app_number, data))
    return apps
