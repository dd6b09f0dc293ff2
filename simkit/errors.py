"""One error base: :class:`SimkitError` is a problem the user can fix.

Every error simkit raises on purpose (a bad study file, an unreadable image, missing weights,
a refused download, an unknown method or option) derives from :class:`SimkitError`. Its
message is one line (or a short paragraph) that names the file, row, value or option and
says how to fix it. The command line prints it without a traceback and exits with status 2;
any other exception is a bug and keeps its traceback.

The concrete errors also derive from the built-in class they always were (``ValueError``,
``RuntimeError``, ``ImportError``), so existing ``except ValueError`` code keeps working.
"""
from __future__ import annotations

from types import ModuleType

__all__ = ["SimkitError", "UsageError", "MissingExtraError", "DISTRIBUTION", "missing_extra",
           "import_extra"]

#: The name simkit is installed under (``pip install simkit-similarity``); the import name
#: stays ``simkit``. (``simkit`` on the package index is an unrelated project.)
DISTRIBUTION = "simkit-similarity"


class SimkitError(Exception):
    """A problem the user can fix; the message says where and how."""


class UsageError(SimkitError, ValueError):
    """An option or argument value that cannot be used (e.g. ``--size 0``)."""


class MissingExtraError(SimkitError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_extra(feature: str, extra: str, cause: BaseException | None = None
                  ) -> MissingExtraError:
    """The error for a feature whose optional extra is not installed.

    Parameters
    ----------
    feature : str
        What needs the extra, e.g. ``"simkit.widgets.GroupExplorer"``.
    extra : str
        The extra to install: ``lab``, ``retrieval``, ``scale`` or ``parquet``.
    cause : BaseException, optional
        The original ImportError, named in the message.

    Returns
    -------
    MissingExtraError
        To raise: ``raise missing_extra("the widgets", "lab", e) from e``.
    """
    why = f" ({cause})" if cause is not None else ""
    return MissingExtraError(f"{feature} needs the {extra} extra: "
                             f"pip install '{DISTRIBUTION}[{extra}]'{why}")


def import_extra(module: str, feature: str, extra: str) -> "ModuleType":
    """``import module``, or :func:`missing_extra`'s error naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise missing_extra(feature, extra, e) from e
