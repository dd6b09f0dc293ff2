"""Fetch a public-domain ukiyo-e collection from an open-access museum: the public names.

The work is done by :mod:`simkit.fetch.http` (polite client, answer cache),
:mod:`simkit.fetch.sources` (the museums, licences, genres) and
:mod:`simkit.fetch.collection` (the collection folder); this module gathers their public
names under the name the command line and older code import.
"""
from __future__ import annotations

import sys

from simkit.fetch.collection import COLUMNS, FetchReport, LicenceRefused, fetch_collection
from simkit.fetch.http import FetchError, Http, ItemGone
from simkit.fetch.sources import SOURCES, Item, Source, infer_genre, is_open_licence
from simkit.study.collection import read_images

__all__ = [
    "SOURCES", "COLUMNS", "FetchError", "LicenceRefused", "ItemGone", "Item", "Source",
    "Http", "FetchReport", "fetch_collection", "load_collection", "infer_genre",
    "is_open_licence", "add_fetch_arguments", "cmd_fetch",
]

# The old name of simkit.study.collection.read_images (a DataFrame, unlike
# simkit.study.collection.load_collection); kept while widgets and notebook 08 move over.
load_collection = read_images


# -- command line ----------------------------------------------------------------------------
def add_fetch_arguments(p) -> None:
    """The arguments of ``simkit fetch NAME --out DIR`` (for simkit.cli.app)."""
    p.add_argument("name", help=f"{' | '.join(SOURCES)} | iiif:MANIFEST_URL")
    p.add_argument("--out", required=True, help="collection folder (created; safe to reuse)")
    p.add_argument("--limit", type=int, default=200, help="at most this many prints")
    p.add_argument("--query", default=None, help="search words (default: the source's)")
    p.add_argument("--base-url", default=None, help="API address (default: the museum's)")
    p.add_argument("--width", type=int, default=843,
                   help="image width asked of IIIF servers (AIC recommends 843)")
    p.add_argument("--full-size", action="store_true",
                   help="The Met: the full-resolution image instead of the web-large one")
    p.add_argument("--allow-licence", action="append", default=[], metavar="LICENCE",
                   help="also fetch items under this licence (repeatable; 'any' for all). "
                        "Default: public domain / CC0 only")
    p.add_argument("--refresh", action="store_true",
                   help="ask the museum again instead of the recorded API answers")
    p.add_argument("--rate", type=float, default=None, metavar="SECONDS",
                   help="seconds between requests (default: 1 for AIC, 0.1 for The Met)")
    p.add_argument("--retries", type=int, default=4)


def cmd_fetch(args) -> int:
    """``simkit fetch``: returns the exit status (0 ok, 1 some items failed)."""
    report = fetch_collection(
        args.name, args.out, limit=args.limit, query=args.query, base_url=args.base_url,
        width=args.width, full_size=args.full_size, allow_licences=args.allow_licence,
        refresh=args.refresh, min_interval=args.rate, retries=args.retries)
    print(report.summary())
    if report.failed:
        print("some images could not be fetched; run the same command again to retry",
              file=sys.stderr)
        return 1
    return 0
