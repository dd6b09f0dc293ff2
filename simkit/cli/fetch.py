"""``simkit fetch NAME --out DIR``: download a public-domain collection (once) for offline work.

Exit status 0, or 1 when some images could not be fetched (running again retries them).
"""
from __future__ import annotations

import argparse
import sys

from simkit.cli.options import Subparsers, non_negative_int, out_folder, positive_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``fetch`` to the ``simkit`` subparsers."""
    from simkit.fetch.sources import SOURCES

    p = subparsers.add_parser("fetch", help="download a public-domain collection (once) for "
                                            "offline work")
    p.add_argument("name", help=f"{' | '.join(SOURCES)} | iiif:MANIFEST_URL")
    p.add_argument("--out", required=True, type=out_folder, help="collection folder (created; safe to reuse)")
    p.add_argument("--limit", type=non_negative_int, default=200,
                   help="at most this many prints")
    p.add_argument("--query", default=None, help="search words (default: the source's)")
    p.add_argument("--base-url", default=None, help="API address (default: the museum's)")
    p.add_argument("--width", type=positive_int, default=843,
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
    p.add_argument("--retries", type=non_negative_int, default=4)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Fetch the collection and print the report."""
    from simkit.fetch.collection import fetch_collection

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
