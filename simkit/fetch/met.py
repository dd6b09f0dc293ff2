"""The Met Collection API: a search for object ids, then one object record per id.

``GET {base}/search?q=…&hasImages=true&departmentId=6`` answers ``{"total", "objectIDs"}``
(all ids at once); ``GET {base}/objects/{id}`` one record. Several client libraries report a
``/public/collection/v1.1/search`` with ``offset`` / ``limit`` paging replacing it; the Met's
own page does not say so, so the v1.1 search is tried first and, when the server does not
know it (a 4xx, recorded once), the v1 search is used. Object records stay at v1.

The search has no public-domain filter. The Met gives images (``primaryImage``,
``primaryImageSmall``) only for its open-access (``isPublicDomain``) objects, so a closed
object arrives without an image: it is yielded with its licence (refused), and a
public-domain one without an image with ``left_out`` set; neither counts toward the limit.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Iterator

from simkit.fetch.http import ApiCache, ItemGone
from simkit.fetch.records import CC0, Item, Source, api_url, infer_genre

__all__ = ["MET_PAGE", "met_items", "met_item", "met_search_ids", "met_v11_base"]

#: Ids asked per v1.1 search page.
MET_PAGE = 100


def met_v11_base(base_url: str) -> str | None:
    """``…/public/collection/v1.1`` for a base ending in ``/v1``, else ``None``."""
    base = base_url.rstrip("/")
    return re.sub(r"/v1$", "/v1.1", base) if re.search(r"/v1$", base) else None


def met_search_ids(src: Source, cache: ApiCache, notes: list[str]) -> Iterator[object]:
    """The object ids of the search: v1.1 pages (offset/limit) when it answers, else v1."""
    params = {"q": src.query, **src.params}
    v11 = met_v11_base(src.base_url)
    offset = 0
    while v11 is not None:
        data = cache.get_json(api_url(v11, "search", {**params, "offset": offset,
                                                      "limit": MET_PAGE}),
                              missing_ok=offset == 0)
        if data is None:  # this server has no v1.1 search
            break
        ids = data.get("objectIDs") or []
        yield from ids
        offset += len(ids)
        total = data.get("total")
        if len(ids) < MET_PAGE or (total is not None and offset >= int(total)):
            return
    data = cache.get_json(api_url(src.base_url, "search", params))
    yield from data.get("objectIDs") or []


def met_items(src: Source, cache: ApiCache, *, full_size: bool,
              notes: list[str]) -> Iterator[Item]:
    """One :class:`Item` per object id of the search (records that fail: ``error`` set)."""
    for oid in met_search_ids(src, cache, notes):
        # Quoted: an id from the search answer must not change the path it is asked at.
        url = api_url(src.base_url, f"objects/{urllib.parse.quote(str(oid), '')}")
        try:
            o = cache.get_json(url)
        except ItemGone as e:  # one record is gone; the others go on
            yield Item("met", str(oid), "", "", "", "", "", "", "", error=str(e))
            continue
        yield met_item(o, oid, full_size)


def met_item(o: dict, oid: object, full_size: bool) -> Item:
    """One object record as an :class:`Item`."""
    image = (o.get("primaryImage") if full_size else None) or o.get("primaryImageSmall") \
        or o.get("primaryImage") or ""
    public = bool(o.get("isPublicDomain"))
    tags = [t.get("term", "") for t in (o.get("tags") or []) if isinstance(t, dict)]
    return Item(
        source="met", source_id=str(o.get("objectID", oid)), title=o.get("title") or "",
        artist=o.get("artistDisplayName") or "", date=o.get("objectDate") or "",
        year=str(o["objectBeginDate"]) if o.get("objectBeginDate") not in (None, "") else "",
        image_url=image, source_url=o.get("objectURL") or "",
        licence=CC0 if public else "not public domain (The Met: isPublicDomain=false)",
        subjects=tags, genre=infer_genre(tags, o.get("title")),
        left_out="" if image or not public else
        "The Met has no open-access image for this object (primaryImage is empty)")
