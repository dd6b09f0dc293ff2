"""``simkit fetch NAME --out DIR``: download a public-domain collection (once) for offline work.

Exit status 0, or 1 when some images could not be fetched (running again retries them).
``simkit fetch --check``: a live check of the museums' APIs for maintainers (0: as expected,
1: something changed, 2: no network).
"""
from __future__ import annotations

import argparse
import sys

from simkit.cli.options import (Subparsers, non_negative_float, non_negative_int, out_folder,
                                positive_int)
from simkit.errors import UsageError
from simkit.fetch.http import FetchError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``fetch`` to the ``simkit`` subparsers."""
    from simkit.fetch.sources import SOURCES

    p = subparsers.add_parser("fetch", help="download a public-domain collection (once) for "
                                            "offline work")
    p.add_argument("name", nargs="?", help=f"{' | '.join(SOURCES)} | iiif:MANIFEST_URL")
    p.add_argument("--out", type=out_folder, default=None,
                   help="collection folder (created; safe to reuse); required with NAME")
    p.add_argument("--check", action="store_true",
                   help="maintainers: ask each museum for one page and one image and report "
                        "what changed (needs the internet)")
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
    p.add_argument("--rate", type=non_negative_float, default=None, metavar="SECONDS",
                   help="seconds between two requests to one host (default: 1; The Met's "
                        "firewall blocks quicker callers for 30 s or more)")
    p.add_argument("--retries", type=non_negative_int, default=4)
    p.set_defaults(func=run)
    return p


def _say(line: str) -> None:
    """A wait or a note, on its own line even while a progress bar is drawn."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


def _check() -> int:
    """The live check: one line per finding; 1 when something changed."""
    from simkit.fetch.check import live_check
    from simkit.fetch.http import Unreachable

    try:
        lines = live_check(notify=_say)
    except Unreachable as e:
        raise FetchError(f"fetch --check needs the internet: {e}") from None
    for line in lines:
        print(line)
    return 0 if all(line.ok for line in lines) else 1


def run(args: argparse.Namespace) -> int:
    """Fetch the collection and print the report (or run the live check)."""
    from simkit.fetch.collection import fetch_collection

    if args.check:
        return _check()
    if not args.name or args.out is None:
        raise UsageError("fetch needs NAME and --out DIR (or --check); see 'simkit fetch "
                         "--help'")
    report = fetch_collection(
        args.name, args.out, limit=args.limit, query=args.query, base_url=args.base_url,
        width=args.width, full_size=args.full_size, allow_licences=args.allow_licence,
        refresh=args.refresh, min_interval=args.rate, retries=args.retries, notify=_say)
    print(report.summary())
    if report.failed:
        print("some images could not be fetched; run the same command again to retry",
              file=sys.stderr)
        return 1
    return 0
