"""Where collections come from: the museum sources and the reader of each.

Each reader turns a source's API answers (through an :class:`~simkit.fetch.http.ApiCache`)
into :class:`Item` records: the Art Institute of Chicago, The Met, or any IIIF manifest.
The records themselves (:class:`Item`, :class:`Source`, licences, genres) are in
:mod:`simkit.fetch.records`, below the readers; their names are importable from here too.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from simkit.errors import SimkitError
from simkit.fetch import aic, iiif, met
from simkit.fetch.http import ApiCache, FetchError, require_http
from simkit.fetch.records import (CC0, GENRE_KEYWORDS, PUBLIC_DOMAIN, Item, Source, api_url,
                                  infer_genre, is_open_licence, licence_allowed, safe_id)

__all__ = ["CC0", "PUBLIC_DOMAIN", "Source", "SOURCES", "GENRE_KEYWORDS", "Item",
           "infer_genre", "is_open_licence", "licence_allowed", "resolve_source",
           "source_items", "safe_id", "api_url"]


SOURCES: dict[str, Source] = {
    # AIC asks for at most 60 requests a minute. q= only ranks (an OR'ed multi-match), so
    # the selection is made by filters on AIC's own vocabulary: the Arts of Asia
    # department's woodblock prints; "ukiyo-e" then ranks the Japanese ones first.
    "aic-ukiyoe": Source(
        "aic", "https://api.artic.edu/api/v1", "ukiyo-e", {}, 1.0,
        "Art Institute of Chicago: woodblock prints of the Arts of Asia department, ranked "
        "by 'ukiyo-e', public domain (filtered by the API), IIIF images 843 px wide",
        filters=(("match_phrase", "department_title", "Arts of Asia"),
                 ("match_phrase", "classification_titles", "woodblock print"))),
    # The Met documents 80 requests/s, but its Incapsula firewall answers 403 after about
    # 30 quick requests and blocks for 30 s or more (metmuseum/openaccess #58, #60): one
    # request a second per host, and a long first wait after a 403.
    "met-ukiyoe": Source(
        "met", "https://collectionapi.metmuseum.org/public/collection/v1", "ukiyo-e",
        {"hasImages": "true", "departmentId": "6"}, 1.0,
        "The Met (Asian Art, department 6): objects matching 'ukiyo-e' with images; only "
        "public-domain ones carry an image (CC0 open access)", throttle_wait=45.0),
}


def resolve_source(name: str, *, query: str | None = None, base_url: str | None = None,
                   min_interval: float | None = None) -> Source:
    """The source ``name`` (a key of :data:`SOURCES` or ``iiif:URL``) with its overrides.

    Raises :class:`~simkit.fetch.http.FetchError` for an unknown name.
    """
    if name.startswith("iiif:"):
        src = Source("iiif", require_http(name[5:], "IIIF manifest URL"), "", {},
                     1.0, "IIIF manifest")
    elif name in SOURCES:
        src = SOURCES[name]
    else:
        raise FetchError(f"unknown collection {name!r}; choose one of "
                         f"{', '.join(SOURCES)} or iiif:MANIFEST_URL")
    if base_url or query is not None:
        base = require_http(base_url, "--base-url") if base_url else src.base_url
        src = replace(src, base_url=base, query=src.query if query is None else query)
    if min_interval is not None:
        src = replace(src, min_interval=float(min_interval))
    return src


def source_items(src: Source, cache: ApiCache, *, width: int, iiif_url: str | None = None,
                 full_size: bool = False, public_domain_only: bool = True,
                 notes: list[str] | None = None) -> Iterator[Item]:
    """The items ``src`` lists, read lazily through ``cache`` (the caller stops at its limit).

    ``public_domain_only``: ask the server for public-domain records only where it can
    filter (AIC). ``notes``: lines for the user (a search cap reached, a fallback taken).
    An answer of an unexpected shape (a list where a record should be, a number for a
    title, …) raises :class:`~simkit.fetch.http.FetchError` naming the source, not a
    traceback.
    """
    notes = [] if notes is None else notes
    if src.kind == "aic":
        items = aic.aic_items(src, cache, width=width, iiif_url=iiif_url,
                              public_domain_only=public_domain_only, notes=notes)
    elif src.kind == "met":
        items = met.met_items(src, cache, full_size=full_size, notes=notes)
    else:
        items = iiif.iiif_items(src.base_url, cache, width=width, notes=notes)
    try:
        yield from items
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        if isinstance(e, SimkitError):
            raise
        raise FetchError(f"{src.base_url}: the server's answer is not shaped like a "
                         f"{src.kind} record ({type(e).__name__}: {e}); check the address "
                         f"(--base-url or the iiif: URL)") from None
