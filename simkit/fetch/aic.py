"""The Art Institute of Chicago's API: artworks search, paged within its result cap.

``GET {base}/artworks/search?q=…&query[bool][filter][i][KIND][FIELD]=VALUE&fields=…&limit=100
&page=N`` answers ``{"pagination": {"total", "limit", "offset", "total_pages",
"current_page"}, "data": [...], "info": {...}, "config": {"iiif_url", "website_url"}}``.
``image_id`` is a UUID on AIC's IIIF Image API 2 server (``config.iiif_url``).

An anonymous search answers at most 1,000 results (``from + size <= 1000`` in the API's
aggregator; its docs say 10,000): page 11 of 100 is refused, so the reader stops at page 10
and says how to get more. ``query[...]`` clauses are Elasticsearch filters run by the server:
``is_public_domain`` there keeps closed records from eating the page budget.
"""
from __future__ import annotations

from typing import Iterator

from simkit.fetch.http import ApiCache
from simkit.fetch.records import PUBLIC_DOMAIN, Item, Source, api_url, infer_genre

__all__ = ["AIC_FIELDS", "AIC_PAGE", "AIC_CAP", "AIC_CAP_NOTE", "aic_items", "aic_params"]

AIC_FIELDS = ("id,title,artist_title,artist_display,date_display,date_start,image_id,"
              "is_public_domain,subject_titles,term_titles,classification_titles,"
              "style_titles,department_title,thumbnail")
#: Results per page (the API's maximum is 100).
AIC_PAGE = 100
#: The most results an anonymous search answers (from + size).
AIC_CAP = 1000
AIC_CAP_NOTE = ("AIC search stops at 1,000 results; narrow with --query or use AIC's public "
                "data dump (https://api.artic.edu/docs/#data-dumps)")


def aic_params(src: Source, page: int, public_domain_only: bool) -> dict:
    """The query parameters of one search page: words, server-side filters, fields, page."""
    clauses = list(src.filters)
    if public_domain_only:
        clauses.append(("term", "is_public_domain", "true"))
    params: dict = {"q": src.query} if src.query else {}
    for k, (kind, name, value) in enumerate(clauses):
        params[f"query[bool][filter][{k}][{kind}][{name}]"] = value
    return {**params, "fields": AIC_FIELDS, "limit": AIC_PAGE, "page": page, **src.params}


def aic_items(src: Source, cache: ApiCache, *, width: int, iiif_url: str | None,
              public_domain_only: bool, notes: list[str]) -> Iterator[Item]:
    """Every artwork the search lists, page by page, up to the 1,000-result cap.

    Records without an image are yielded with ``left_out`` set; at the cap, with more
    results waiting, :data:`AIC_CAP_NOTE` goes to ``notes``.
    """
    page = 1
    while True:
        data = cache.get_json(api_url(src.base_url, "artworks/search",
                                      aic_params(src, page, public_domain_only)))
        rows = data.get("data") or []
        config = data.get("config") or {}
        iiif = (iiif_url or config.get("iiif_url") or "https://www.artic.edu/iiif/2").rstrip("/")
        website = (config.get("website_url") or "https://www.artic.edu").rstrip("/")
        for a in rows:
            yield _item(a, iiif, website, width)
        pagination = data.get("pagination") or {}
        total = int(pagination.get("total") or 0)
        pages = pagination.get("total_pages")
        if not rows or (pages is not None and page >= int(pages)):
            return
        if (page + 1) * AIC_PAGE > AIC_CAP:
            if total > page * AIC_PAGE:
                notes.append(f"{AIC_CAP_NOTE} ({total:,} match the search)")
            return
        page += 1


def _item(a: dict, iiif: str, website: str, width: int) -> Item:
    """One search record as an :class:`Item`."""
    subjects = [*(a.get("subject_titles") or []), *(a.get("term_titles") or []),
                *(a.get("style_titles") or [])]
    image_id = a.get("image_id")
    return Item(
        source="aic", source_id=str(a["id"]), title=a.get("title") or "",
        artist=a.get("artist_title") or (a.get("artist_display") or "").split("\n")[0],
        date=a.get("date_display") or "",
        year=str(a["date_start"]) if a.get("date_start") is not None else "",
        # 843 px wide is the size AIC's IIIF server caches and recommends.
        image_url=f"{iiif}/{image_id}/full/{width},/0/default.jpg" if image_id else "",
        source_url=f"{website}/artworks/{a['id']}",
        licence=PUBLIC_DOMAIN if a.get("is_public_domain") else
        "not public domain (Art Institute of Chicago: is_public_domain=false)",
        subjects=subjects, genre=infer_genre(subjects, a.get("title")),
        left_out="" if image_id else "AIC has no image for this artwork (image_id is empty)")
