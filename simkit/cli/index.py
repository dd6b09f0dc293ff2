"""``simkit index COLLECTION``: features of a whole collection on Dask, into the zarr store.

Exit status 0 when every image is stored, 1 when some could not be used (listed on stderr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simkit.cli.options import (Subparsers, add_model_args, name_list, non_negative_int,
                                out_folder, path_arg, positive_int, warn)
from simkit.errors import UsageError

if TYPE_CHECKING:
    from simkit.features.zarr_store import CollectionFeatures

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``index`` to the ``simkit`` subparsers."""
    from simkit.features.representations import REPRESENTATIONS
    from simkit.scale.cluster import SCHEDULER_ENV

    p = subparsers.add_parser("index", help="features of a whole collection on Dask, into the "
                                            "chunked zarr store")
    p.add_argument("collection", type=path_arg, help="a folder with images.csv (a study folder is one)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help=f"a running Dask scheduler (default ${SCHEDULER_ENV}, else an "
                        f"embedded LocalCluster on this machine)")
    p.add_argument("--workers", type=non_negative_int, default=None,
                   help="worker processes of the embedded cluster (default one per core; "
                        "0 = no Dask, in this process)")
    p.add_argument("--representations", type=name_list, default=",".join(REPRESENTATIONS),
                   help="comma-separated: gram,cosine,gram_cosine")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"],
                   help="storage precision (float16: half the disk, see the README)")
    p.add_argument("--chunk", type=positive_int, default=64,
                   help="images per store chunk and task")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--store", default=None, type=out_folder,
                   help="store folder (default CACHE/zarr, CACHE from --cache-dir)")
    p.add_argument("--dashboard", default=":8787",
                   help="dashboard address of the embedded cluster ('' for none)")
    p.add_argument("--ann", action="store_true",
                   help="also build the approximate index (PCA + faiss) and report recall@10")
    p.add_argument("--no-progress", action="store_true")
    add_model_args(p, cache_help="feature cache")
    p.set_defaults(func=run)
    return p


def _check_representations(names: list[str]) -> None:
    from simkit.features.representations import REPRESENTATIONS

    unknown = [r for r in names if r not in REPRESENTATIONS]
    if unknown:
        raise UsageError(f"--representations: unknown {', '.join(unknown)}; choose from "
                         f"{', '.join(REPRESENTATIONS)}")


def run(args: argparse.Namespace) -> int:
    """Index the collection; print the counts, and the approximate index with ``--ann``."""
    from simkit.features.zarr_store import default_zarr_root
    from simkit.scale.cluster import index_collection

    _check_representations(args.representations)
    store = args.store or (Path(args.cache_dir) / "zarr" if args.cache_dir
                           else default_zarr_root())
    res = index_collection(
        args.collection, representations=args.representations, weights=args.weights,
        layer=args.layer, size=args.size, policy=args.policy, precision=args.precision,
        dtype=args.dtype, store_root=store, chunk_rows=args.chunk,
        batch_size=args.batch_size, scheduler=args.scheduler, workers=args.workers,
        dashboard=args.dashboard or None, progress=not args.no_progress, device=args.device,
        announce=lambda line: print(line, file=sys.stderr))
    warn(res.weights_note)
    s = res.stats
    print(f"indexed {s['images']} images ({s['rows']} distinct) in {s['seconds']:.1f} s: "
          f"{s['computed']} computed ({s['images_per_second']:.2f} img/s on "
          f"{s['workers'] or 'no'} worker(s)), {s['from_store']} from the store, "
          f"{s['errors']} unusable")
    print(f"store: {s['store']}")
    for i, msg in list(res.errors.items())[:5]:
        print(f"  unusable: {i}: {msg}", file=sys.stderr)
    if args.ann and len(res.features) > 11:
        _approximate_indexes(res.features, args.representations)
    return 1 if res.errors else 0


def _approximate_indexes(features: "CollectionFeatures", representations: list[str]) -> None:
    """Build, save and report the approximate index of each representation."""
    from simkit.scale.neighbours import CollectionIndex

    for rep in representations:
        idx = CollectionIndex.build(features, rep)
        path = idx.save()
        print(f"{rep}: approximate index ({idx.n_components} PCA dims, faiss "
              f"{idx.kind}) recall@10 = {idx.recall(k=10):.3f}; saved {path}")
