"""Credentials and settings: explicit arguments, else environment, else a ``.env`` file.

Nothing is read at import; :meth:`Settings.resolve` reads the environment and the
``.env`` file only when called. The export key never appears in ``repr`` or ``str``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanplum_notebook.errors import ConfigError, ValidationError
from leanplum_notebook.redaction import get_logger

__all__ = [
    "DEFAULT_API_URL",
    "METHODS",
    "Settings",
    "check_method",
    "default_cache_dir",
    "read_dotenv",
]

logger = get_logger(__name__)

DEFAULT_API_URL = "https://api.leanplum.com/api"
ENV_APP_ID = "LEANPLUM_APP_ID"
ENV_EXPORT_KEY = "LEANPLUM_EXPORT_KEY"
ENV_API_URL = "LEANPLUM_API_URL"
ENV_CACHE_DIR = "LEANPLUM_CACHE_DIR"
ENV_METHOD = "LEANPLUM_API_METHOD"
#: HTTP methods the API accepts (spec 1.1): ``post`` keeps the secrets in a JSON body,
#: ``get`` puts everything in the URL (for gateways that drop bodies)
METHODS = ("post", "get")


def default_cache_dir() -> Path:
    """The platform's user cache folder for leanplum-notebook."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("leanplum-notebook"))


def read_dotenv(path: str | os.PathLike[str] | None) -> dict[str, str]:
    """Parse a ``.env`` file with python-dotenv (``KEY=value``, ``#`` comments, quotes,
    ``export`` prefixes); no ``${VAR}`` expansion, so a secret is taken as written.

    A missing file gives an empty mapping; a name without a value is left out.
    """
    if path is None or not Path(path).is_file():
        return {}
    from dotenv import dotenv_values

    values = dotenv_values(Path(path), interpolate=False, encoding="utf-8")
    return {name: value for name, value in values.items() if value is not None}


def check_method(value: object, argument: str = "method") -> str:
    """``"post"`` or ``"get"`` (any case), or ValidationError naming ``argument``."""
    if isinstance(value, str) and value.strip().lower() in METHODS:
        return value.strip().lower()
    shown = repr(value)[:40]
    raise ValidationError(argument, f"expected 'post' or 'get', not {shown}")


@dataclass(frozen=True)
class Settings:
    """Where and as whom to call the export API.

    Attributes
    ----------
    app_id : str
        The Leanplum app id (``app_...``).
    export_key : str
        The app's Data Export key (``exp_...``). Never shown by ``repr``/``str``.
    api_url : str
        The API endpoint (``https://api.leanplum.com/api`` or the older
        ``https://www.leanplum.com/api``, or a simulator's URL).
    cache_dir : Path
        Root of the local cache.
    method : str
        ``"post"`` (default: the secrets travel in a JSON body) or ``"get"`` (everything
        in the URL, as Leanplum's own examples do).
    """

    app_id: str
    export_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    cache_dir: Path = field(default_factory=default_cache_dir)
    method: str = "post"

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", check_method(self.method))

    def __repr__(self) -> str:
        key = "'***'" if self.export_key else "''"
        return (
            f"Settings(app_id={self.app_id!r}, export_key={key}, api_url={self.api_url!r}, "
            f"cache_dir={str(self.cache_dir)!r}, method={self.method!r})"
        )

    __str__ = __repr__

    @classmethod
    def resolve(
        cls,
        app_id: str | None = None,
        export_key: str | None = None,
        api_url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        method: str | None = None,
        environ: Mapping[str, str] | None = None,
        dotenv: str | os.PathLike[str] | None = ".env",
        require_key: bool = True,
    ) -> Settings:
        """Build settings from explicit arguments > environment variables > ``.env``.

        Parameters
        ----------
        app_id, export_key, api_url, cache_dir, method
            Explicit values; None means "look it up" (``LEANPLUM_APP_ID``,
            ``LEANPLUM_EXPORT_KEY``, ``LEANPLUM_API_URL``, ``LEANPLUM_CACHE_DIR``,
            ``LEANPLUM_API_METHOD``).
        environ
            The environment to read (default ``os.environ``).
        dotenv
            Path of a ``.env`` file (default ``.env`` in the working folder; None: none).
        require_key
            When False, a missing export key is allowed (cache-only operations).

        Raises
        ------
        ConfigError
            Naming what is missing and the three ways to give it.
        ValidationError
            A method other than ``post`` or ``get``.
        """
        env = os.environ if environ is None else environ
        file_values: dict[str, str] | None = None

        def lookup(explicit: object, name: str) -> str | None:
            nonlocal file_values
            if explicit is not None and str(explicit) != "":
                return str(explicit)
            if env.get(name):
                return env[name]
            if file_values is None:
                file_values = read_dotenv(dotenv)
            return file_values.get(name) or None

        app = lookup(app_id, ENV_APP_ID)
        key = lookup(export_key, ENV_EXPORT_KEY)
        missing = []
        if not app:
            missing.append(("app id", "app_id=", ENV_APP_ID))
        if not key and require_key:
            missing.append(("export key", "export_key=", ENV_EXPORT_KEY))
        if missing:
            what = " and ".join(m[0] for m in missing)
            ways = "; ".join(
                f"pass {arg}..., or set the environment variable {var}, or put {var}=... in "
                f"a .env file"
                for _, arg, var in missing
            )
            raise ConfigError(f"missing Leanplum {what}: {ways}")
        url = lookup(api_url, ENV_API_URL) or DEFAULT_API_URL
        folder = lookup(os.fspath(cache_dir) if cache_dir is not None else None, ENV_CACHE_DIR)
        root = Path(folder).expanduser() if folder else default_cache_dir()
        verb = lookup(method, ENV_METHOD) or "post"
        return cls(
            app_id=str(app),
            export_key=key or "",
            api_url=url,
            cache_dir=root,
            method=check_method(verb, "method" if method else ENV_METHOD),
        )

    @classmethod
    def from_env(cls, **kw: Any) -> Settings:
        """Same as :meth:`resolve` (the name used in the design notes)."""
        return cls.resolve(**kw)


def resolve_cache_dir(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
) -> Path:
    """The cache root: argument > ``LEANPLUM_CACHE_DIR`` > ``.env`` > platform default."""
    if cache_dir is not None and os.fspath(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ if environ is None else environ
    value = env.get(ENV_CACHE_DIR) or read_dotenv(dotenv).get(ENV_CACHE_DIR)
    return Path(value).expanduser() if value else default_cache_dir()
