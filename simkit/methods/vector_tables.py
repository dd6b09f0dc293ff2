"""Tables of vectors, one per image, read from files or memory and checked.

>>> table = read_vectors("embeddings.npz")                            # doctest: +SKIP
>>> table.rows_for(["img1", "img2"], "method 'mine'")              # doctest: +SKIP

A table is read from (:func:`read_vectors`):

- ``.npz``: arrays ``image_ids`` (strings) and ``vectors`` (``n x d``);
- ``.csv`` / ``.parquet``: an ``image_id`` column (or an index named ``image_id``) and one
  numeric column per dimension (``.parquet`` needs the ``parquet`` extra);
- ``.npy``: an ``n x d`` array whose rows follow ``image_ids``, given separately (e.g. the
  study's images.csv order);
- a pandas DataFrame (as a table file), a numpy array with ``image_ids``, or a mapping
  ``{image_id: vector}``;
- a list of files: the parts of one collection, concatenated.

Every problem (a missing file, no ``image_id`` column, duplicate ids, NaN, a non-numeric
column, parts of different dimensions, an image with no row) is a :class:`VectorsError`
naming the file and the ids or values, and saying how to fix it.
:mod:`simkit.methods.own_vectors` makes a table a method.
"""
from __future__ import annotations

import importlib
import os
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.errors import SimkitError, missing_extra
from simkit.paths import NotRegularFileError, open_regular
from simkit.search.distances import undefined_rows

__all__ = ["VectorsError", "VectorTable", "ID_COLUMN", "USER_SOURCE", "read_vectors"]

#: The column (or index) of image ids in a table file or DataFrame.
ID_COLUMN = "image_id"
#: The source of vectors that did not come from a file.
USER_SOURCE = "user vectors"
_SHOWN = 10  # ids named in a message, at most
_FORMATS = ("give a .npz (arrays image_ids and vectors), a .csv or .parquet (an image_id "
            "column and one numeric column per dimension) or a .npy (an n x d array, with "
            "the image ids in row order given separately)")


class VectorsError(SimkitError, ValueError):
    """A table of vectors that cannot be used; the message names the file and the ids,
    columns or values, and says how to fix it."""


@dataclass(frozen=True, eq=False)
class VectorTable:
    """One vector per image: row ``i`` of ``vectors`` belongs to ``image_ids[i]``.

    Attributes
    ----------
    image_ids : tuple of str
        Unique image ids.
    vectors : numpy.ndarray
        ``n x d`` float32, read-only.
    source : str
        The file(s) read (``"a.csv + b.csv"`` for parts), or ``"user vectors"``.
    """

    image_ids: tuple[str, ...]
    vectors: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.image_ids) != self.vectors.shape[0]:
            raise VectorsError(f"{self.source}: {len(self.image_ids)} image ids for vectors "
                               f"of shape {self.vectors.shape}; give one id per row")

    @property
    def dimensions(self) -> int:
        """The length of each vector."""
        return int(self.vectors.shape[1])

    @property
    def from_file(self) -> bool:
        """Whether the vectors were read from a file (else given in memory)."""
        return self.source != USER_SOURCE

    @cached_property
    def row_of(self) -> dict[str, int]:
        """``{image_id: row}``."""
        return {i: r for r, i in enumerate(self.image_ids)}

    def same_as(self, other: "VectorTable") -> bool:
        """Whether ``other`` holds the same ids and vectors (its source may differ)."""
        return (self.image_ids == other.image_ids
                and np.array_equal(self.vectors, other.vectors))

    def rows_for(self, image_ids: Iterable[Any], user: str) -> np.ndarray:
        """The rows of ``image_ids``, in that order; a :class:`VectorsError` naming up to
        ten ids without a row, and ``user`` (who asked), otherwise."""
        ids = [str(i) for i in image_ids]
        rows = self.row_of
        missing = [i for i in dict.fromkeys(ids) if i not in rows]
        if missing:
            raise VectorsError(f"{_the(self)} ({user}) has no row for {len(missing)} image "
                               f"id(s): {_some(missing)}; add them or remove those images")
        return np.array([rows[i] for i in ids], dtype=np.intp)

    def check_defined(self, metric: str) -> None:
        """Refuse the table when ``metric`` leaves some distances undefined (an all-zero
        vector under cosine: 0/0), naming those images."""
        zero = undefined_rows(self.vectors, metric)
        if len(zero):
            ids = [self.image_ids[r] for r in zero]
            raise VectorsError(f"{_the(self)}: image(s) {_some(ids)} have all-zero vectors, "
                               f"whose cosine distance is undefined; remove those images, "
                               f"or use the euclidean metric")

    def __len__(self) -> int:
        return len(self.image_ids)

    def __repr__(self) -> str:
        return (f"VectorTable({len(self):,} images x {self.dimensions:,} dimensions from "
                f"{self.source})")


def _some(values: Sequence[Any]) -> str:
    """Up to ``_SHOWN`` values, quoted, and how many more."""
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    more = len(values) - _SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def _the(table: VectorTable) -> str:
    return f"the vectors file {table.source}" if table.from_file else "the user vectors"


# -- checks: every table goes through _table ----------------------------------------------
def _numeric(values: Any, where: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except ValueError as e:  # ragged rows
        raise VectorsError(f"{where}: the vectors are not a table of numbers ({e}); give "
                           f"one vector of the same length per image") from None
    if array.dtype.kind not in "iuf":
        raise VectorsError(f"{where}: the vectors are not numeric (dtype {array.dtype}); "
                           f"give numbers only, one row per image")
    if array.ndim != 2:
        raise VectorsError(f"{where}: the vectors must be a 2-D array (one row per image, "
                           f"one column per dimension), got shape {array.shape}")
    if 0 in array.shape:
        raise VectorsError(f"{where}: the table is empty ({array.shape[0]} rows, "
                           f"{array.shape[1]} dimensions); give at least one image with "
                           f"at least one dimension")
    return array


def _check_ids(ids: list[str], where: str) -> None:
    seen = pd.Series(ids)
    dups = seen[seen.duplicated()].unique().tolist()
    if dups:
        raise VectorsError(f"{where}: {len(dups)} duplicate image id(s): {_some(dups)}; "
                           f"keep one row per image")


def _check_finite(ids: list[str], array: np.ndarray, where: str,
                  columns: Sequence[str] | None) -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [f"{ids[r]!r} column {columns[c] if columns else c}"
                 for r, c in zip(rows[:_SHOWN], cols[:_SHOWN])]
        more = len(rows) - len(cells)
        raise VectorsError(f"{where}: NaN or infinite values in {len(rows)} cell(s): "
                           f"{', '.join(cells)}{f' (and {more} more)' if more > 0 else ''}; "
                           f"fill them in or remove those images")
    vectors = array.astype(np.float32)
    if not np.isfinite(vectors).all():
        r = int(np.nonzero(~np.isfinite(vectors).all(axis=1))[0][0])
        raise VectorsError(f"{where}: image {ids[r]!r} has values beyond the float32 range "
                           f"(about ±3.4e38); rescale the vectors")
    return vectors


def _table(ids: Iterable[Any], values: Any, where: str, source: str,
           columns: Sequence[str] | None = None) -> VectorTable:
    """The checked table: ids as strings, unique; values numeric, 2-D, finite."""
    array = _numeric(values, where)
    ids = [str(i) for i in ids]
    if len(ids) != array.shape[0]:
        raise VectorsError(f"{where}: {array.shape[0]} rows of vectors but {len(ids)} image "
                           f"ids; give one image id per row, in row order")
    _check_ids(ids, where)
    vectors = _check_finite(ids, array, where, columns)
    vectors.setflags(write=False)
    return VectorTable(tuple(ids), vectors, source)


# -- in memory -----------------------------------------------------------------------------
def _id_column(df: pd.DataFrame, where: str) -> tuple[pd.Series, pd.DataFrame]:
    if ID_COLUMN in df.columns:
        return df[ID_COLUMN], df.drop(columns=ID_COLUMN)
    if df.index.name == ID_COLUMN:
        return df.index.to_series(), df
    raise VectorsError(f"{where}: no {ID_COLUMN} column (columns: "
                       f"{_some([str(c) for c in df.columns])}); name the column of image "
                       f"ids {ID_COLUMN!r} (or the index: df.index.name = {ID_COLUMN!r})")


def _non_numeric(data: pd.DataFrame, ids: list[str], where: str) -> None:
    bad = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])
           or pd.api.types.is_bool_dtype(data[c])]
    if not bad:
        return
    column = data[bad[0]]
    wrong = column.notna() & pd.to_numeric(column, errors="coerce").isna()
    example = ""
    if wrong.any():
        r = int(np.argmax(wrong.to_numpy()))
        example = f" (e.g. image {ids[r]!r} has {column.iloc[r]!r} in {str(bad[0])!r})"
    raise VectorsError(f"{where}: non-numeric column(s) {_some([str(c) for c in bad])}"
                       f"{example}; keep only the {ID_COLUMN} column and one numeric column "
                       f"per dimension")


def _from_frame(df: pd.DataFrame, where: str, source: str) -> VectorTable:
    id_values, data = _id_column(df, where)
    missing = np.nonzero(id_values.isna().to_numpy())[0]
    if len(missing):
        raise VectorsError(f"{where}: row(s) {_some([int(r) + 1 for r in missing])} have no "
                           f"{ID_COLUMN} (counting data rows from 1); give every row its id")
    ids = [str(i) for i in id_values]
    if data.shape[1] == 0 or data.shape[0] == 0:
        raise VectorsError(f"{where}: the table is empty ({data.shape[0]} rows, "
                           f"{data.shape[1]} dimension columns); give at least one image "
                           f"and one numeric column per dimension")
    _non_numeric(data, ids, where)
    return _table(ids, data.to_numpy(np.float64), where, source,
                  [str(c) for c in data.columns])


def _from_mapping(vectors: Mapping[Any, Any]) -> VectorTable:
    where = "the mapping of vectors"
    rows = {str(k): np.asarray(v) for k, v in vectors.items()}
    if not rows:
        raise VectorsError(f"{where} is empty; give at least one image id and its vector")
    length = next(iter(rows.values())).shape
    odd = [k for k, v in rows.items() if v.ndim != 1 or v.shape != length]
    if odd:
        raise VectorsError(f"{where}: the vector(s) of {_some(odd)} differ in shape from the "
                           f"first one's {length}; give one 1-D vector of the same length "
                           f"per image")
    return _table(rows, np.stack(list(rows.values())), where, USER_SOURCE)


def _from_array(values: Any, image_ids: Iterable[Any] | None, where: str,
                source: str) -> VectorTable:
    if image_ids is None:
        raise VectorsError(f"{where} holds vectors without image ids; pass image_ids (one "
                           f"per row, in row order, e.g. the study's images.csv order)")
    return _table(list(image_ids), values, where, source)


# -- files -----------------------------------------------------------------------------------
def _read_npz(f: IO[bytes], where: str, image_ids: Any) -> VectorTable:
    how = ("save it with np.savez(path, image_ids=np.array(ids, dtype=str), "
           "vectors=vectors)")
    with np.load(f, allow_pickle=False) as z:
        missing = [k for k in ("image_ids", "vectors") if k not in z.files]
        if missing:
            raise VectorsError(f"{where}: no array {' or '.join(missing)} (it holds "
                               f"{_some(z.files) or 'no arrays'}); {how}")
        try:
            ids, values = z["image_ids"], z["vectors"]
        except ValueError:  # object arrays need pickle, which is never loaded
            raise VectorsError(f"{where}: image_ids or vectors are stored as Python "
                               f"objects; {how}") from None
    if ids.ndim != 1 or ids.dtype.kind not in "USiu":
        raise VectorsError(f"{where}: image_ids must be a 1-D array of strings or whole "
                           f"numbers (got dtype {ids.dtype}, shape {ids.shape}); {how}")
    return _table(ids.astype(str).tolist(), values, where, where)


def _read_npy(f: IO[bytes], where: str, image_ids: Any) -> VectorTable:
    if image_ids is None:
        raise VectorsError(f"{where}: a .npy file holds vectors without image ids; give the "
                           f"ids of its rows in order (image_ids=..., e.g. the study's "
                           f"images.csv order), or save a .npz with arrays image_ids and "
                           f"vectors")
    return _from_array(np.load(f, allow_pickle=False), image_ids, where, where)


def _read_csv(f: IO[bytes], where: str, image_ids: Any) -> VectorTable:
    # ids stay text ("0001" is not 1); an empty cell elsewhere is NaN, refused by name
    df = pd.read_csv(f, dtype={ID_COLUMN: str}, low_memory=False)
    return _from_frame(df, where, where)


def _read_parquet(f: IO[bytes], where: str, image_ids: Any) -> VectorTable:
    df = pd.read_parquet(f)
    if ID_COLUMN in df.columns and df[ID_COLUMN].dtype.kind == "f":
        raise VectorsError(f"{where}: the {ID_COLUMN} column holds decimal numbers; store "
                           f"the ids as text or whole numbers")
    return _from_frame(df, where, where)


_READERS: dict[str, Callable[[IO[bytes], str, Any], VectorTable]] = {
    ".npz": _read_npz, ".csv": _read_csv, ".parquet": _read_parquet, ".npy": _read_npy}


def _read_file(path: Path, image_ids: Any) -> VectorTable:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise VectorsError(f"{where}: unknown vectors file type {suffix or '(no suffix)'!r}; "
                           f"{_FORMATS}")
    if suffix == ".parquet":
        try:  # only to say which extra is missing, before pandas would
            importlib.import_module("pyarrow")
        except ImportError as e:
            raise missing_extra(f"reading vectors from {where}", "parquet", e) from e
    try:
        with open_regular(path) as f:
            return _READERS[suffix](f, where, image_ids)
    except VectorsError:
        raise
    except FileNotFoundError:
        raise VectorsError(f"vectors file {where} not found; check the path") from None
    except NotRegularFileError as e:
        raise VectorsError(f"vectors file {e}") from None
    except PermissionError:
        raise VectorsError(f"vectors file {where}: permission denied; make it readable") \
            from None
    except (OSError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile,
            pd.errors.ParserError) as e:
        raise VectorsError(f"vectors file {where} cannot be read as {suffix} ({e}); "
                           f"{_FORMATS}") from None


def _concatenate(tables: Sequence[VectorTable]) -> VectorTable:
    """The parts of one collection as one table: same dimensions, no id in two parts."""
    first = tables[0]
    for t in tables[1:]:
        if t.dimensions != first.dimensions:
            raise VectorsError(f"{t.source} has {t.dimensions} dimensions but {first.source} "
                               f"has {first.dimensions} dimensions; the parts of one "
                               f"method's vectors need the same dimensions")
    for i, a in enumerate(tables):
        for b in tables[i + 1:]:
            both = sorted(set(a.row_of) & set(b.row_of))
            if both:
                raise VectorsError(f"{len(both)} duplicate image id(s) in both {a.source} "
                                   f"and {b.source}: {_some(both)}; keep each image in "
                                   f"one file")
    vectors = np.concatenate([t.vectors for t in tables])
    vectors.setflags(write=False)
    return VectorTable(tuple(i for t in tables for i in t.image_ids), vectors,
                       " + ".join(t.source for t in tables))


def _is_file_list(source: Any) -> bool:
    return (isinstance(source, (list, tuple)) and len(source) > 0
            and all(isinstance(s, (str, os.PathLike)) for s in source))


def read_vectors(source: Any, image_ids: Iterable[Any] | None = None) -> VectorTable:
    """Read and check a table of vectors, one per image.

    Parameters
    ----------
    source : path, list of paths, DataFrame, array or mapping
        A ``.npz``, ``.csv``, ``.parquet`` or ``.npy`` file (see the module docstring);
        several files (the parts of one collection, concatenated); a DataFrame with an
        ``image_id`` column or index; an ``n x d`` array (with ``image_ids``); or a mapping
        ``{image_id: vector}``.
    image_ids : iterable of str, optional
        The ids of the rows, in order: needed for a ``.npy`` file or an array (e.g. the
        study's images.csv order), unused for the other sources.

    Returns
    -------
    VectorTable
        Unique string ids and finite float32 vectors.

    Raises
    ------
    VectorsError
        For a missing or unreadable file, an unknown file type, no ``image_id`` column,
        duplicate ids, NaN or infinite values, non-numeric columns, an empty table, a table
        that is not 2-D, ids that do not match the rows, or parts of different dimensions.
    MissingExtraError
        For a ``.parquet`` file without pyarrow (the ``parquet`` extra).

    Examples
    --------
    >>> table = read_vectors({"a": [0.0, 1.0], "b": [1.0, 0.0]})
    >>> table.image_ids, table.dimensions
    (('a', 'b'), 2)
    """
    if _is_file_list(source):
        npy = [str(s) for s in source if Path(s).suffix.lower() == ".npy"]
        if len(source) > 1 and npy:
            raise VectorsError(f"{_some(npy)}: a .npy file has no image ids, so it cannot be "
                               f"one part of several; save the parts as .npz, .csv or "
                               f".parquet with their image ids")
        return _concatenate([_read_file(Path(s), image_ids) for s in source])
    if isinstance(source, VectorTable):
        return source
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source), image_ids)
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, "the DataFrame of vectors", USER_SOURCE)
    if isinstance(source, Mapping):
        return _from_mapping(source)
    return _from_array(source, image_ids, "the array of vectors", USER_SOURCE)
