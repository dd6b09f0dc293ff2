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

__all__ = ["SimkitError", "UsageError", "MissingExtraError"]


class SimkitError(Exception):
    """A problem the user can fix; the message says where and how."""


class UsageError(SimkitError, ValueError):
    """An option or argument value that cannot be used (e.g. ``--size 0``)."""


class MissingExtraError(SimkitError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
