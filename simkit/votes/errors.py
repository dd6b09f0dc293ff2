"""What can go wrong with votes: the store cannot be used, or a vote is invalid."""
from __future__ import annotations

from simkit.errors import SimkitError

__all__ = ["VoteStoreError", "StoreMismatch", "StoreUnavailable", "VoteError"]


class VoteStoreError(SimkitError):
    """The vote store cannot be used as asked; the message says why and what to do."""


class StoreMismatch(VoteStoreError):
    """The store file holds the votes of another study."""


class StoreUnavailable(VoteStoreError):
    """The store cannot be written right now (locked by another writer, read-only, disk
    error). Nothing was saved; keep the answer and try again later."""


class VoteError(SimkitError, ValueError):
    """A vote or registration is invalid (unknown participant or question, bad choice)."""
