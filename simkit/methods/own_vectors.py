"""Your own vectors: a machine method made from an embedding table, one vector per image.

Embeddings made elsewhere (thingsvision output, DreamSim, a museum's own embeddings) become
a registered method, usable wherever a method name is (:func:`simkit.choose`, the tables,
retrieval):

>>> register_vectors("mine", "embeddings.npz", metric="cosine")     # doctest: +SKIP
>>> simkit.choose(study, ["gram", "mine"])                          # doctest: +SKIP

The table is read and checked by :func:`simkit.methods.vector_tables.read_vectors` (files,
formats and every check are described there).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from simkit.methods.registry import (Method, check_method_name, get_method, method_names,
                                     register_method)
from simkit.methods.vector_tables import (ID_COLUMN, USER_SOURCE, VectorsError, VectorTable,
                                          read_vectors)
from simkit.search.distances import check_metric

__all__ = ["VectorsError", "VectorTable", "ID_COLUMN", "USER_SOURCE", "read_vectors",
           "register_vectors", "vectors_for"]


def register_vectors(name: str, source: Any, *, metric: str = "euclidean",
                     image_ids: Iterable[Any] | None = None, replace: bool = False,
                     description: str | None = None) -> Method:
    """Make a table of vectors a method called ``name``, usable wherever a method is.

    Parameters
    ----------
    name : str
        The method's name (lower-cased), as given to :func:`simkit.choose` or ``--methods``.
    source : path, list of paths, DataFrame, array, mapping or VectorTable
        The vectors, as for :func:`read_vectors`.
    metric : str
        ``euclidean`` or ``cosine``: how two images' vectors are compared (cosine refuses
        an all-zero vector: its distances are undefined).
    image_ids : iterable of str, optional
        The row ids of a ``.npy`` file or an array.
    replace : bool
        Replace a method of that name registered before with other vectors (a notebook cell
        run again with a new file).
    description : str, optional
        One line for people (default: the source and the table's size).

    Returns
    -------
    Method
        The registered method (family and kind ``vectors``; ``params["table"]`` holds the
        :class:`VectorTable`).

    Raises
    ------
    VectorsError
        For an unusable table or metric, an all-zero vector with the cosine metric, or a
        name registered before with other vectors and no ``replace``.
    UnknownMethodError
        For a built-in name, or a name of another kind of method registered before.

    Examples
    --------
    >>> register_vectors("mine", "embeddings.npz", metric="cosine")  # doctest: +SKIP
    """
    key = check_method_name(name)  # before reading the table: a name choices.csv refuses
    try:
        check_metric(metric)
    except ValueError as e:
        raise VectorsError(f"vectors method {key!r}: {e}") from None
    table = read_vectors(source, image_ids)
    table.check_defined(metric)  # by image id, before any choice could rest on 0/0
    method = Method(key, description or (
        f"your own vectors, {len(table):,} images x {table.dimensions:,} dimensions, "
        f"{metric} distance"), "vectors", "vectors", metric, (),
        table.source if table.from_file else USER_SOURCE, {"table": table})
    old = get_method(key) if key in method_names() else None
    if old is not None and old.family == "vectors" and not replace and (
            old != method or not old.params["table"].same_as(table)):
        raise VectorsError(f"a vectors method {key!r} is already registered with other "
                           f"vectors or settings (from {old.source}); pass replace=True to "
                           f"replace it, or choose another name")
    return register_method(method, replace=replace)


def vectors_for(method: Method | str, image_ids: Iterable[Any]) -> np.ndarray:
    """The vectors of ``image_ids``, in that order, from a vectors method's table.

    Parameters
    ----------
    method : Method or str
        A method made by :func:`register_vectors` (or its name).
    image_ids : iterable of str
        The images wanted.

    Returns
    -------
    numpy.ndarray
        ``len(image_ids) x d`` float32 (a copy).

    Raises
    ------
    VectorsError
        When the method has no table, or the table has no row for some ids (the message
        names them, up to ten, how many there are, and the file).
    """
    m = get_method(method) if isinstance(method, str) else method
    table = m.params.get("table") if m.family == "vectors" else None
    if not isinstance(table, VectorTable):
        raise VectorsError(f"method {m.name!r} is not made from a table of vectors; "
                           f"register one with register_vectors")
    return table.vectors[table.rows_for(image_ids, f"method {m.name!r}")]
