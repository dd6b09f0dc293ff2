"""The names people read for the rows of every table: a method's name as the paper writes it
(``gram_cosine`` → ``Gram·Cosine``, from the registry) and ``Majority`` for the people.

Text, HTML, figures and widgets all label methods with :func:`display_name`, so a method is
called the same everywhere.
"""
from __future__ import annotations

__all__ = ["display_name"]


def display_name(method: str) -> str:
    """The paper's name of a method (``gram_cosine`` → ``Gram·Cosine``), from the registry;
    ``majority`` (the people) → ``Majority``; a name the registry does not know, as it is."""
    from simkit.methods.registry import UnknownMethodError, get_method

    if method == "majority":
        return "Majority"
    try:
        return get_method(method).display_name
    except UnknownMethodError:
        return method
