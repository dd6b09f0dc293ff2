"""The data sets of Pihlgren et al.: SVHN and STL-10 images, BAPPS 2AFC and JND judgments.

* **SVHN** (Netzer et al. 2011) — ``ROOT/{train,test}_32x32.mat`` (MATLAB files with ``X``,
  32 × 32 × 3 × N uint8, and ``y``), read by :class:`torchvision.datasets.SVHN`; the
  paper adapts on the train images and tests on the test images.
* **STL-10** (Coates et al. 2011) — ``ROOT/stl10_binary/test_X.bin`` and ``test_y.bin``
  (raw uint8, 3 × 96 × 96 per image in column-major order), read by
  :class:`torchvision.datasets.STL10`; the paper tests on the test images.
* **BAPPS** (Zhang et al. 2018, the PerceptualSimilarity repository's download scripts) —
  ``ROOT/2afc/{train,val}/SUBSET/{ref,p0,p1,judge}/NAME.{png,npy}`` with ``judge`` the
  fraction of people who found ``p1`` closer to ``ref``, and
  ``ROOT/jnd/val/SUBSET/{p0,p1,same}/NAME.{png,npy}`` with ``same`` the fraction who saw
  no difference. Files pair up by name.

With ``download=True`` SVHN and STL-10 are fetched by torchvision (which checks their MD5
sums); otherwise the files on disk are read and checked for shape — not for their MD5 sum,
so a subset or a re-packed copy works too, and the error for a missing or partial file
names the folder and the files expected. BAPPS is never downloaded here (its scripts:
``scripts/download_dataset.sh`` of richzhang/PerceptualSimilarity).

:func:`fabricate` writes tiny random data sets in these very formats, for running the
replication offline (its numbers mean nothing).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from simkit.methods.perceptual.datasets import IMAGE_SUFFIXES
from simkit.methods.perceptual.errors import PerceptualDataError
from simkit.methods.perceptual.twoafc import JndPairs, Triplets

if TYPE_CHECKING:
    import torch

__all__ = ["SVHN_FILES", "STL10_FILES", "BAPPS_2AFC_SUBSETS", "BAPPS_JND_SUBSETS",
           "load_svhn", "load_stl10", "load_bapps_2afc", "load_bapps_jnd", "parse_bapps",
           "fabricate", "data_paths", "missing_data", "BAPPS_NOTE"]

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
STL10_FILES = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin")}
STL10_SIDE = 96
BAPPS_2AFC_SUBSETS = {"train": ("traditional", "cnn", "mix"),
                      "val": ("traditional", "cnn", "superres", "deblur", "color",
                              "frameinterp")}
BAPPS_JND_SUBSETS = {"val": ("traditional", "cnn")}
BAPPS_NOTE = "human judgments (BAPPS, Zhang et al. 2018)"
BAPPS_SCRIPT = ("richzhang/PerceptualSimilarity's scripts/download_dataset.sh "
                "(unpacks to dataset/2afc and dataset/jnd)")


# -- SVHN, STL-10 ----------------------------------------------------------------------------
def _torchvision_class(name: str):
    """torchvision's reader of ``name`` whose file check is a presence check (ours below
    checks shapes and names the files); downloads keep torchvision's MD5 check."""
    import torchvision.datasets as tvd

    base = getattr(tvd, name)

    class Reader(base):  # type: ignore[misc, valid-type]
        def _check_integrity(self) -> bool:
            if name == "SVHN":
                return os.path.isfile(os.path.join(self.root, self.filename))
            files = STL10_FILES["test" if self.split == "test" else "train"]
            return all(os.path.isfile(os.path.join(self.root, self.base_folder, f))
                       for f in files)

    Reader.__name__ = name
    return Reader


def _may_download(download: bool, what: str, folder: Path) -> None:
    """Refuse a download when ``SIMKIT_OFFLINE`` is set (:func:`simkit.config.offline`)."""
    from simkit.config import offline

    if download and offline():
        raise PerceptualDataError(f"{folder}: {what} is not there and SIMKIT_OFFLINE is set, "
                                  f"so it is not downloaded; copy the files in or unset "
                                  f"SIMKIT_OFFLINE")


def _limit(x: np.ndarray, limit: int | None) -> np.ndarray:
    return x if limit is None else x[:limit]


def load_svhn(root: str | os.PathLike, split: str = "test", *, download: bool = False,
              limit: int | None = None) -> "torch.Tensor":
    """SVHN's ``split`` images as uint8 ``(N, 3, 32, 32)`` (the first ``limit``)."""
    import torch

    from simkit.errors import import_extra

    if split not in SVHN_FILES:
        raise PerceptualDataError(f"SVHN split {split!r}: use {' or '.join(SVHN_FILES)}")
    root = Path(root)
    path = root / SVHN_FILES[split]
    if not download and not path.is_file():
        raise PerceptualDataError(
            f"{root}: no SVHN {split} file; it needs {SVHN_FILES[split]} (from "
            f"http://ufldl.stanford.edu/housenumbers/), or run once online with --download")
    import_extra("scipy.io", "reading SVHN's .mat files", "perceptual")
    fetch = download and not path.is_file()
    if fetch:
        _may_download(download, f"SVHN {SVHN_FILES[split]}", root)
    try:
        ds = _torchvision_class("SVHN")(str(root), split=split, download=download)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as e:
        if fetch and not path.is_file():
            raise PerceptualDataError(
                f"{root}: could not download SVHN {SVHN_FILES[split]} ({e}); copy it there "
                f"from http://ufldl.stanford.edu/housenumbers/") from None
        raise PerceptualDataError(
            f"{path}: not a complete SVHN file ({type(e).__name__}: {e}); it must hold X "
            f"(32x32x3xN uint8) and y — copy or download {SVHN_FILES[split]} again") from None
    data = ds.data
    if data.ndim != 4 or data.shape[1:] != (3, 32, 32) or data.dtype != np.uint8:
        raise PerceptualDataError(f"{path}: X has shape {tuple(np.transpose(data, (2, 3, 1, 0)).shape)}"
                                  f" {data.dtype}; SVHN's is 32x32x3xN uint8")
    if len(ds.labels) != len(data):
        raise PerceptualDataError(f"{path}: {len(data)} images but {len(ds.labels)} labels "
                                  f"in y; the file is damaged, copy it again")
    return torch.from_numpy(np.ascontiguousarray(_limit(data, limit)))


def load_stl10(root: str | os.PathLike, split: str = "test", *, download: bool = False,
               limit: int | None = None) -> "torch.Tensor":
    """STL-10's ``split`` images as uint8 ``(N, 3, 96, 96)`` (the first ``limit``).

    ``root`` is the folder holding ``stl10_binary/`` (as for torchvision)."""
    import torch

    if split not in STL10_FILES:
        raise PerceptualDataError(f"STL-10 split {split!r}: use {' or '.join(STL10_FILES)}")
    root = Path(root)
    folder = root / "stl10_binary"
    files = [folder / f for f in STL10_FILES[split]]
    if not download:
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise PerceptualDataError(
                f"{folder}: missing {', '.join(missing)}; STL-10 {split} needs "
                f"{' and '.join(STL10_FILES[split])} there (unpack stl10_binary.tar.gz from "
                f"https://cs.stanford.edu/~acoates/stl10/ into {root}, or run once online "
                f"with --download)")
        per = 3 * STL10_SIDE * STL10_SIDE
        nx, ny = files[0].stat().st_size, files[1].stat().st_size
        if nx == 0 or nx % per:
            raise PerceptualDataError(
                f"{files[0]}: {nx} bytes is not a whole number of 3x96x96 images "
                f"({per} bytes each); the file is partial, copy or download it again")
        if ny != nx // per:
            raise PerceptualDataError(
                f"{files[1]}: {ny} labels for {nx // per} images in {files[0].name}; one is "
                f"partial, copy or download both again")
    fetch = download and not all(f.is_file() for f in files)
    if fetch:
        _may_download(download, "STL-10 (stl10_binary.tar.gz)", root)
    try:
        ds = _torchvision_class("STL10")(str(root), split=split, download=download)
    except (ValueError, OSError, RuntimeError) as e:
        if fetch and not all(f.is_file() for f in files):
            raise PerceptualDataError(
                f"{root}: could not download STL-10 ({e}); unpack stl10_binary.tar.gz from "
                f"https://cs.stanford.edu/~acoates/stl10/ there") from None
        raise PerceptualDataError(f"{folder}: STL-10 {split} could not be read ({e}); copy "
                                  f"or download stl10_binary again") from None
    return torch.from_numpy(np.ascontiguousarray(_limit(ds.data, limit)))


# -- BAPPS -----------------------------------------------------------------------------------
def parse_bapps(spec: str | os.PathLike, kind: str = "2afc", split: str = "val"
                ) -> tuple[Path, list[str]]:
    """``ROOT`` (every subset of ``kind``/``split``) or ``ROOT:SUBSET`` (one):
    ``(root, subsets)``."""
    subsets = _subsets(kind, split)
    text = str(spec)
    head, sep, tail = text.rpartition(":")
    if sep and tail in subsets:
        return Path(head).expanduser(), [tail]
    if sep and tail and "/" not in tail and not Path(text).exists():
        raise PerceptualDataError(f"BAPPS {kind} {split} subset {tail!r}: use one of "
                                  f"{', '.join(subsets)} (ROOT:SUBSET), or ROOT for all")
    return Path(text).expanduser(), list(subsets)


def _subsets(kind: str, split: str) -> tuple[str, ...]:
    table = {"2afc": BAPPS_2AFC_SUBSETS, "jnd": BAPPS_JND_SUBSETS}[kind]
    if split not in table:
        raise PerceptualDataError(f"BAPPS {kind} has no split {split!r}; use "
                                  f"{' or '.join(table)}")
    return table[split]


def _chosen_subsets(kind: str, split: str, subsets: Sequence[str] | None) -> list[str]:
    """``subsets`` (all of ``kind``/``split`` when none), each checked to be one of them."""
    known = _subsets(kind, split)
    for sub in subsets or ():
        if sub not in known:
            raise PerceptualDataError(f"BAPPS {kind} {split} subset {sub!r}: use one of "
                                      f"{', '.join(known)}")
    return list(subsets or known)


def _pool_ids(paths: Sequence[Path]) -> list[str]:
    """``SUBSET/PART/NAME`` of each BAPPS image file."""
    return [f"{p.parent.parent.name}/{p.parent.name}/{p.stem}" for p in paths]


def _bapps_folder(root: Path, kind: str, split: str, subset: str, parts: Sequence[str],
                  label: str, limit: int | None) -> tuple[list[str], dict[str, list[Path]],
                                                          np.ndarray]:
    """The names, image files per part and label values of one BAPPS subset, checked."""
    base = root / kind / split / subset
    if not base.is_dir():
        raise PerceptualDataError(
            f"{base}: not found; BAPPS {kind} needs {kind}/{split}/{subset}/"
            f"{{{','.join(parts)},{label}}} under {root} (from {BAPPS_SCRIPT})")
    files: dict[str, dict[str, Path]] = {}
    for part in (*parts, label):
        folder = base / part
        if not folder.is_dir():
            raise PerceptualDataError(f"{folder}: missing; every BAPPS {kind} subset has "
                                      f"{', '.join((*parts, label))} folders")
        suffixes = {".npy"} if part == label else IMAGE_SUFFIXES
        files[part] = {p.stem: p for p in sorted(folder.iterdir())
                       if p.suffix.lower() in suffixes}
    names = sorted(files[parts[0]])
    if not names:
        raise PerceptualDataError(f"{base / parts[0]}: no images")
    for part in (*parts[1:], label):
        if len(files[part]) != len(names) or set(files[part]) != set(names):
            lacking = sorted(set(names) - set(files[part]))
            extra = sorted(set(files[part]) - set(names))
            what = (f"lacks {lacking[0]}{'.npy' if part == label else ''}" if lacking
                    else f"has {extra[0]} with no {parts[0]} image")
            raise PerceptualDataError(
                f"{base / part}: {len(files[part])} files for {len(names)} in "
                f"{parts[0]}/ ({what}); every {parts[0]} image needs one in each of "
                f"{', '.join(p for p in (*parts, label) if p != parts[0])}")
    names = names[:limit] if limit is not None else names
    values = np.empty(len(names))
    for k, n in enumerate(names):
        path = files[label][n]
        try:
            v = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64).ravel()
        except (OSError, ValueError) as e:
            raise PerceptualDataError(f"{path}: not a .npy number ({e})") from None
        if v.size != 1 or not np.isfinite(v[0]) or not 0.0 <= v[0] <= 1.0:
            raise PerceptualDataError(f"{path}: {label} = {v.tolist()}; it must be one "
                                      f"fraction between 0 and 1")
        values[k] = v[0]
    _check_sizes(names, {p: files[p] for p in parts}, base)
    return names, {p: [files[p][n] for n in names] for p in parts}, values


def _check_sizes(names: list[str], files: dict[str, dict[str, Path]], base: Path) -> None:
    """Every image of one triplet / pair has the same width and height."""
    from PIL import Image, UnidentifiedImageError
    from tqdm.auto import tqdm

    for n in tqdm(names, desc=f"checking {base.name}", unit="item",
                  disable=len(names) < 1000):  # BAPPS val: tens of thousands of files
        sizes = {}
        for part, f in files.items():
            try:
                with Image.open(f[n]) as im:  # reads the header only
                    sizes[part] = im.size
            except (OSError, UnidentifiedImageError) as e:
                raise PerceptualDataError(f"{f[n]}: not an image ({e})") from None
        if len(set(sizes.values())) > 1:
            said = ", ".join(f"{p} {w}x{h}" for p, (w, h) in sizes.items())
            raise PerceptualDataError(f"{base}: the images of {n} differ in size ({said}); "
                                      f"the images of one BAPPS item must be equally large")


def load_bapps_2afc(root: str | os.PathLike, split: str = "val",
                    subsets: Sequence[str] | None = None, *, limit: int | None = None
                    ) -> Triplets:
    """BAPPS 2AFC triplets (ref, x0 = p0, x1 = p1, J = judge) of ``subsets`` (all of the
    split by default), the first ``limit`` of each; ``table`` names subset and file."""
    root = Path(root)
    subsets = _chosen_subsets("2afc", split, subsets)
    paths, rows, J, ref, x0, x1 = [], [], [], [], [], []
    for sub in subsets:
        names, files, judge = _bapps_folder(root, "2afc", split, sub, ("ref", "p0", "p1"),
                                            "judge", limit)
        for k, n in enumerate(names):
            i = len(paths)
            paths += [files["ref"][k], files["p0"][k], files["p1"][k]]
            ref.append(i)
            x0.append(i + 1)
            x1.append(i + 2)
            rows.append({"subset": sub, "name": n})
        J.append(judge)
    table = pd.DataFrame(rows, columns=["subset", "name"])
    return Triplets(_pool_ids(paths), ref, x0, x1, np.concatenate(J) if J else [],
                    np.arange(len(ref)), None, paths, table, BAPPS_NOTE,
                    {"source": "bapps-2afc", "root": str(root), "split": split,
                     "subsets": subsets})


def load_bapps_jnd(root: str | os.PathLike, split: str = "val",
                   subsets: Sequence[str] | None = None, *, limit: int | None = None
                   ) -> JndPairs:
    """BAPPS JND pairs (p0, p1, same) of ``subsets`` (all by default)."""
    root = Path(root)
    subsets = _chosen_subsets("jnd", split, subsets)
    paths, rows, same = [], [], []
    for sub in subsets:
        names, files, s = _bapps_folder(root, "jnd", split, sub, ("p0", "p1"), "same", limit)
        for k, n in enumerate(names):
            paths += [files["p0"][k], files["p1"][k]]
            rows.append({"subset": sub, "name": n})
        same.append(s)
    n = len(rows)
    return JndPairs(_pool_ids(paths), np.arange(n) * 2, np.arange(n) * 2 + 1,
                    np.concatenate(same) if same else np.empty(0), paths,
                    pd.DataFrame(rows, columns=["subset", "name"]), BAPPS_NOTE,
                    {"source": "bapps-jnd", "root": str(root), "split": split,
                     "subsets": subsets})


# -- where the replication looks, and what it needs -----------------------------------------
def data_paths(data_root: str | os.PathLike) -> dict[str, Path]:
    """The folders the replication reads under ``data_root``: ``svhn``, ``stl10``,
    ``bapps`` (the folder holding ``2afc/`` and ``jnd/``)."""
    root = Path(data_root)
    return {"svhn": root / "svhn", "stl10": root / "stl10", "bapps": root / "bapps"}


def missing_data(paths: dict[str, Path]) -> list[str]:
    """One line per file or folder the replication needs that is not there."""
    out = []
    for split in ("train", "test"):
        f = paths["svhn"] / SVHN_FILES[split]
        if not f.is_file():
            out.append(f"{f}  (SVHN {split}; --download fetches it)")
    for f in STL10_FILES["test"]:
        p = paths["stl10"] / "stl10_binary" / f
        if not p.is_file():
            out.append(f"{p}  (STL-10 test; --download fetches it)")
    for kind, split, table in (("2afc", "val", BAPPS_2AFC_SUBSETS),
                               ("jnd", "val", BAPPS_JND_SUBSETS)):
        gone = [sub for sub in table[split] if not (paths["bapps"] / kind / split / sub).is_dir()]
        if gone:  # one line per kind, not one per subset
            subs = gone[0] if len(gone) == 1 else "{" + ",".join(gone) + "}"
            out.append(f"{paths['bapps'] / kind / split}/{subs}/  (BAPPS, from {BAPPS_SCRIPT})")
    return out


# -- tiny fabricated data sets in the real formats ------------------------------------------
def _smooth(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    """``n`` smooth random colour images, uint8 ``(n, side, side, 3)``."""
    from PIL import Image

    base = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(b).resize((side, side), Image.BILINEAR))
                     for b in base])


def fabricate(root: str | os.PathLike, *, seed: int = 0, n_svhn: int = 200, n_stl10: int = 24,
              n_bapps: int = 6, side: int = 32) -> dict[str, Path]:
    """Write tiny random SVHN, STL-10 and BAPPS data sets in their real on-disk formats
    under ``root`` (laid out as :func:`data_paths`); returns those paths.

    For trying the replication offline: the images are smooth noise and the judgments
    random, so every number computed on them is meaningless."""
    from PIL import Image
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    paths = data_paths(root)
    paths["svhn"].mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_svhn), ("test", max(4, n_svhn // 2))):
        x = np.transpose(_smooth(rng, n, 32), (1, 2, 3, 0))  # 32 x 32 x 3 x N, as SVHN's
        savemat(paths["svhn"] / SVHN_FILES[split],
                {"X": x, "y": rng.integers(1, 11, (n, 1)).astype(np.uint8)})
    stl = paths["stl10"] / "stl10_binary"
    stl.mkdir(parents=True, exist_ok=True)
    imgs = _smooth(rng, n_stl10, STL10_SIDE)  # (N, H, W, 3) -> column-major (N, 3, W, H)
    (stl / "test_X.bin").write_bytes(np.transpose(imgs, (0, 3, 2, 1)).tobytes())
    (stl / "test_y.bin").write_bytes(rng.integers(1, 11, n_stl10).astype(np.uint8).tobytes())
    for kind, parts, label in (("2afc", ("ref", "p0", "p1"), "judge"),
                               ("jnd", ("p0", "p1"), "same")):
        table = BAPPS_2AFC_SUBSETS if kind == "2afc" else BAPPS_JND_SUBSETS
        for sub in table["val"]:
            base = paths["bapps"] / kind / "val" / sub
            for part in (*parts, label):
                (base / part).mkdir(parents=True, exist_ok=True)
            for k in range(n_bapps):
                name = f"{k:06d}"
                ims = _smooth(rng, len(parts), side)
                for part, im in zip(parts, ims):
                    Image.fromarray(im).save(base / part / f"{name}.png")
                np.save(base / label / f"{name}.npy",
                        np.array([rng.integers(0, 6) / 5], dtype=np.float32))
    return paths
