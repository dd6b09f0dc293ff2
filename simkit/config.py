"""Configuration: where simkit keeps its caches and which environment variables it reads.

This is the only module that reads the environment (the command line aside). Everything
is read when a function is called, never at import, so a notebook or a test can change a
variable and the next call sees it.

==========================  ==============================================================
variable                    meaning
==========================  ==============================================================
``SIMKIT_CACHE``            the cache root (default: the platform's user cache folder,
                            ``~/.cache/simkit`` on Linux); features, zarr stores,
                            projections and demo studies live in sub-folders of it
``SIMKIT_OFFLINE``          ``1`` (or true, yes, on): never try to download pretrained
                            weights; ``0`` (false, no, off) or unset: download when needed
``SIMKIT_WIKIART``          the folder of the WikiArt ukiyo-e prints (demo studies)
``SIMKIT_DASK_SCHEDULER``   address of a running Dask scheduler (``tcp://HOST:8786``)
``SIMKIT_CONTACT``          an e-mail or URL sent in the User-Agent of museum requests
``SIMKIT_PAPER_DATA``       another folder of published tables (default: the package's)
``JUPYTERHUB_SERVICE_PREFIX`` set by JupyterHub (``/user/NAME/``): ``simkit serve`` prints
                            its links through the hub's proxy too
==========================  ==============================================================

A value that cannot be used (``SIMKIT_OFFLINE=maybe``, a path with ``~nobody``) is a
:class:`ConfigError` naming the variable, never a silent guess or a traceback.
"""
from __future__ import annotations

import os
from pathlib import Path

from simkit.errors import SimkitError

__all__ = ["ConfigError", "ENV_VARS", "cache_root", "cache_dir", "offline", "wikiart_dir",
           "dask_scheduler", "contact", "paper_data_dir", "numba_cache_dir", "use_numba_cache",
           "jupyterhub_prefix"]

ENV_VARS = ("SIMKIT_CACHE", "SIMKIT_OFFLINE", "SIMKIT_WIKIART", "SIMKIT_DASK_SCHEDULER",
            "SIMKIT_CONTACT", "SIMKIT_PAPER_DATA")
#: The sub-folders of the cache root, one per kind of cached thing.
CACHE_KINDS = ("features", "zarr", "projections", "studies", "numba")


#: The spellings of yes and no that ``SIMKIT_OFFLINE`` accepts (any case).
_YES = ("1", "true", "yes", "on", "y")
_NO = ("0", "false", "no", "off", "n")


class ConfigError(SimkitError, ValueError):
    """An environment variable holds a value simkit cannot use; the message names it."""


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _env_path(name: str) -> Path | None:
    """``$name`` as a path (``~`` expanded), when set."""
    env = _env(name)
    if env is None:
        return None
    try:
        return Path(env).expanduser()
    except RuntimeError:  # "~nobody/…": no such user, or no home folder to expand "~"
        raise ConfigError(f"${name}={env!r}: '~' cannot be expanded (no such user, or no "
                          f"home folder); give an absolute path, or unset {name}") from None


def cache_root() -> Path:
    """``$SIMKIT_CACHE``, else the platform's user cache folder for simkit."""
    env = _env_path("SIMKIT_CACHE")
    if env is not None:
        return env
    import platformdirs

    return Path(platformdirs.user_cache_dir("simkit", appauthor=False))


def cache_dir(kind: str) -> Path:
    """The cache folder of one kind of thing (``features``, ``zarr``, ``projections``,
    ``studies`` or ``numba``) under :func:`cache_root`."""
    if kind not in CACHE_KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; one of {', '.join(CACHE_KINDS)}")
    return cache_root() / kind


def offline() -> bool:
    """``SIMKIT_OFFLINE`` is 1, true, yes or on: never try to download weights.

    0, false, no, off or unset is online; any other value is a :class:`ConfigError` (
    ``false`` used to mean offline, as did every value but ``0``)."""
    env = _env("SIMKIT_OFFLINE")
    if env is None or env.lower() in _NO:
        return False
    if env.lower() in _YES:
        return True
    raise ConfigError(f"$SIMKIT_OFFLINE={env!r}: use 1 (never download weights) or 0 "
                      f"(download them when needed)")


def wikiart_dir() -> Path | None:
    """``$SIMKIT_WIKIART``, when set."""
    return _env_path("SIMKIT_WIKIART")


def dask_scheduler() -> str | None:
    """``$SIMKIT_DASK_SCHEDULER``, when set."""
    return _env("SIMKIT_DASK_SCHEDULER")


def contact() -> str | None:
    """``$SIMKIT_CONTACT``, when set (sent to museum APIs in the User-Agent)."""
    return _env("SIMKIT_CONTACT")


def paper_data_dir() -> Path | None:
    """``$SIMKIT_PAPER_DATA``, when set (another folder of published tables); a
    :class:`ConfigError` when it is not a folder (a missing one was a traceback after the
    tables had been printed)."""
    path = _env_path("SIMKIT_PAPER_DATA")
    if path is not None and not path.is_dir():
        raise ConfigError(f"$SIMKIT_PAPER_DATA={str(path)!r} is not a folder; unset it (the "
                          f"published tables ship with simkit) or point it at a folder of "
                          f"published tables (table2.csv, …)")
    return path


def use_numba_cache() -> None:
    """Point numba's on-disk cache at :func:`numba_cache_dir` unless the user chose one.

    Numba reads ``NUMBA_CACHE_DIR`` once, when it is first imported, so this must run
    before ``import umap``; it changes nothing once numba is loaded."""
    import sys

    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))


def numba_cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR`` when set, else ``numba`` under the cache root."""
    env = _env("NUMBA_CACHE_DIR")
    return Path(env) if env else cache_dir("numba")


def jupyterhub_prefix() -> str | None:
    """``$JUPYTERHUB_SERVICE_PREFIX`` (``/user/NAME/``, ending in ``/``) inside a
    JupyterHub single-user server, else None."""
    env = _env("JUPYTERHUB_SERVICE_PREFIX")
    return (env if env.endswith("/") else env + "/") if env else None
