"""Where collections come from: the museum sources, their items, licences and genres.

Each reader turns a source's API answers (through an :class:`~simkit.fetch.http.ApiCache`)
into :class:`Item` records: the Art Institute of Chicago, The Met, or any IIIF manifest.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from simkit.errors import SimkitError
from simkit.fetch.http import ApiCache, FetchError, ItemGone, require_http

__all__ = ["CC0", "PUBLIC_DOMAIN", "Source", "SOURCES", "GENRE_KEYWORDS", "Item",
           "infer_genre", "is_open_licence", "licence_allowed", "resolve_source",
           "source_items"]


CC0 = "CC0-1.0"
PUBLIC_DOMAIN = "public-domain"
# Exactly these (or the Creative Commons public-domain URLs) count as open: a description
# such as "not public domain" must never pass, so no substring matching here.
_OPEN_TOKENS = {"cc0", "cc0-1.0", "cc0 1.0", "public-domain", "public domain", "pdm",
                "pdm-1.0", "public domain mark"}
_OPEN_URL_RE = re.compile(r"^https?://creativecommons\.org/publicdomain/(zero|mark)/1\.0/?$",
                          re.I)



@dataclass(frozen=True)
class Source:
    """A named collection source: which API, where, and what to ask for."""

    kind: str                 # "aic" | "met" | "iiif"
    base_url: str
    query: str = ""
    params: dict = field(default_factory=dict)
    min_interval: float = 1.0  # seconds between requests
    description: str = ""


SOURCES: dict[str, Source] = {
    "aic-ukiyoe": Source(
        "aic", "https://api.artic.edu/api/v1", "ukiyo-e", {}, 1.0,
        "Art Institute of Chicago: artworks matching 'ukiyo-e', public domain, IIIF images "
        "843 px wide"),
    "met-ukiyoe": Source(
        "met", "https://collectionapi.metmuseum.org/public/collection/v1", "ukiyo-e",
        {"hasImages": "true", "departmentId": "6"}, 0.1,
        "The Met (Asian Art): objects matching 'ukiyo-e' with images, CC0 open access"),
}

# Keywords (in subject terms, tags and titles) that place a print in a genre; the first
# genre whose keyword matches wins. The museums do not record ukiyo-e genres themselves,
# so images.csv says where the label came from (subjects) and leaves it empty when unsure.
GENRE_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("Yakusha-e", ("actor", "kabuki", "yakusha", "theater", "theatre")),
    ("Bijin-ga", ("beauty", "beauties", "bijin", "courtesan", "geisha", "woman", "women")),
    ("Musha-e", ("warrior", "samurai", "musha")),
    ("Monogatari-e", ("tale of genji", "genji", "monogatari", "tale", "legend", "story")),
    ("Meisho-e", ("landscape", "famous places", "meisho", "station", "view of", "views of",
                  "mount fuji", "fuji", "bridge", "cityscape", "waterfall")),
    ("Kachō-e", ("bird", "birds", "flower", "flowers", "kacho", "kachō")),
]


def infer_genre(*texts: str | Iterable[str] | None) -> str:
    """The ukiyo-e genre suggested by subject terms / tags / title, or "" when none fits.

    >>> infer_genre(["Actors", "Kabuki"], "Ichikawa Danjuro as Kagekiyo")
    'Yakusha-e'
    """
    words: list[str] = []
    for t in texts:
        if t is None:
            continue
        words.extend([t] if isinstance(t, str) else [str(x) for x in t])
    blob = " | ".join(w.lower() for w in words)
    for genre, keys in GENRE_KEYWORDS:
        if any(re.search(rf"\b{re.escape(k)}(s|es)?\b", blob) for k in keys):
            return genre
    return ""


def is_open_licence(licence: str) -> bool:
    """True for public domain / CC0 (the only licences fetched without opting in)."""
    text = (licence or "").strip()
    return text.lower() in _OPEN_TOKENS or bool(_OPEN_URL_RE.match(text))


def licence_allowed(licence: str, allow: Iterable[str]) -> bool:
    """True for an open licence, or one that ``allow`` names (a substring, or ``"any"``)."""
    if is_open_licence(licence):
        return True
    allow = [a.strip().lower() for a in allow if a and a.strip()]
    return "any" in allow or any(a in licence.lower() for a in allow if licence)


@dataclass
class Item:
    """One print as the source describes it (before download)."""

    source: str
    source_id: str
    title: str
    artist: str
    date: str
    year: str
    image_url: str
    source_url: str
    licence: str
    subjects: list[str] = field(default_factory=list)
    genre: str = ""
    error: str = ""  # why the record could not be read (the item is listed as failed)

    @property
    def image_id(self) -> str:
        """The id in images.csv: ``SOURCE-SOURCE_ID``, safe as a file name."""
        return f"{self.source}-{_safe(self.source_id)}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")[:80] or "x"




def _url(base: str, path: str, params: dict | None = None) -> str:
    url = base.rstrip("/") + "/" + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params, safe="[],")
    return url



# -- sources ---------------------------------------------------------------------------------
_AIC_FIELDS = ("id,title,artist_title,artist_display,date_display,date_start,image_id,"
               "is_public_domain,subject_titles,term_titles,classification_titles,"
               "style_titles,thumbnail")


def _aic_items(src: Source, cache: ApiCache, limit: int, width: int,
               iiif_url: str | None) -> Iterator[Item]:
    """Art Institute of Chicago: ``GET /artworks/search?q=…&fields=…&limit=…&page=…``."""
    page, seen = 1, 0
    while seen < limit:
        params = {"q": src.query, "fields": _AIC_FIELDS, "limit": 100, "page": page,
                  **src.params}
        data = cache.get_json(_url(src.base_url, "artworks/search", params))
        rows = data.get("data") or []
        if not rows:
            return
        config = data.get("config") or {}
        iiif = (iiif_url or config.get("iiif_url") or "https://www.artic.edu/iiif/2").rstrip("/")
        website = (config.get("website_url") or "https://www.artic.edu").rstrip("/")
        for a in rows:
            if not a.get("image_id"):
                continue  # no image to fetch
            seen += 1
            subjects = [*(a.get("subject_titles") or []), *(a.get("term_titles") or []),
                        *(a.get("style_titles") or [])]
            yield Item(
                source="aic", source_id=str(a["id"]), title=a.get("title") or "",
                artist=a.get("artist_title") or (a.get("artist_display") or "").split("\n")[0],
                date=a.get("date_display") or "",
                year=str(a["date_start"]) if a.get("date_start") is not None else "",
                image_url=f"{iiif}/{a['image_id']}/full/{width},/0/default.jpg",
                source_url=f"{website}/artworks/{a['id']}",
                licence=PUBLIC_DOMAIN if a.get("is_public_domain") else
                "not public domain (Art Institute of Chicago: is_public_domain=false)",
                subjects=subjects,
                genre=infer_genre(subjects, a.get("title")))
            if seen >= limit:
                return
        pages = (data.get("pagination") or {}).get("total_pages")
        if pages is not None and page >= int(pages):
            return
        page += 1


def _met_items(src: Source, cache: ApiCache, limit: int, full_size: bool) -> Iterator[Item]:
    """The Met: ``GET /search?q=…`` (object ids), then ``GET /objects/{id}`` for each."""
    data = cache.get_json(_url(src.base_url, "search", {"q": src.query, **src.params}))
    seen = 0
    for oid in data.get("objectIDs") or []:
        if seen >= limit:
            return
        # Quoted: an id from the search answer must not change the path it is asked at.
        try:
            o = cache.get_json(_url(src.base_url, f"objects/{urllib.parse.quote(str(oid), '')}"))
        except ItemGone as e:  # one record is gone; the others go on
            yield Item("met", str(oid), "", "", "", "", "", "", "", error=str(e))
            continue
        image = (o.get("primaryImage") if full_size else None) or o.get("primaryImageSmall") \
            or o.get("primaryImage")
        if not image:
            continue  # no open-access image
        seen += 1
        tags = [t.get("term", "") for t in (o.get("tags") or []) if isinstance(t, dict)]
        yield Item(
            source="met", source_id=str(o.get("objectID", oid)), title=o.get("title") or "",
            artist=o.get("artistDisplayName") or "", date=o.get("objectDate") or "",
            year=str(o["objectBeginDate"]) if o.get("objectBeginDate") not in (None, "") else "",
            image_url=image, source_url=o.get("objectURL") or "",
            licence=CC0 if o.get("isPublicDomain") else
            "not public domain (The Met: isPublicDomain=false)",
            subjects=tags, genre=infer_genre(tags, o.get("title")))


def _lang(value) -> str:
    """A IIIF label/value (string, list, v2 @value objects or v3 language map) as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(filter(None, (_lang(v) for v in value)))
    if isinstance(value, dict):
        if "@value" in value:
            return str(value["@value"])
        for key in ("en", "none", *value.keys()):
            if key in value:
                return _lang(value[key])
    return str(value)


def _iiif_items(manifest_url: str, cache: ApiCache, limit: int, width: int) -> Iterator[Item]:
    """Any IIIF Presentation manifest (v2 ``sequences/canvases/images`` or v3 ``items``)."""
    m = cache.get_json(manifest_url)
    licence = _lang(m.get("license") or m.get("rights") or "")
    meta = {_lang(e.get("label")).lower(): _lang(e.get("value"))
            for e in (m.get("metadata") or []) if isinstance(e, dict)}
    artist = meta.get("artist") or meta.get("creator") or meta.get("author") or ""
    date = meta.get("date") or meta.get("created") or ""
    homepage = m.get("homepage") or m.get("related") or ""
    if isinstance(homepage, list):
        homepage = homepage[0] if homepage else ""
    if isinstance(homepage, dict):
        homepage = homepage.get("id") or homepage.get("@id") or ""
    canvases = (m.get("items") or
                [c for s in (m.get("sequences") or []) for c in (s.get("canvases") or [])])
    for n, canvas in enumerate(canvases[:limit], start=1):
        service = None
        for anno in (canvas.get("images") or []):  # v2
            res = anno.get("resource") or {}
            service = res.get("service")
        for page in (canvas.get("items") or []):  # v3
            for anno in page.get("items") or []:
                body = anno.get("body") or {}
                service = body.get("service") or service
        if isinstance(service, list):
            service = service[0] if service else None
        if not isinstance(service, dict):
            continue
        base = (service.get("@id") or service.get("id") or "").rstrip("/")
        if not base:
            continue
        title = _lang(canvas.get("label")) or _lang(m.get("label"))
        yield Item(source="iiif", source_id=f"{_safe(base.rsplit('/', 1)[-1])}",
                   title=title, artist=artist, date=date,
                   year=(re.search(r"\d{4}", date).group(0) if re.search(r"\d{4}", date) else ""),
                   image_url=f"{base}/full/{width},/0/default.jpg",
                   source_url=str(homepage or manifest_url), licence=licence or
                   "unknown (the manifest states no licence)",
                   subjects=[], genre=infer_genre(_lang(m.get("label")), title,
                                                  meta.get("genre", "")))




def resolve_source(name: str, *, query: str | None = None, base_url: str | None = None,
                   min_interval: float | None = None) -> Source:
    """The source ``name`` (a key of :data:`SOURCES` or ``iiif:URL``) with its overrides.

    Raises :class:`~simkit.fetch.http.FetchError` for an unknown name.
    """
    if name.startswith("iiif:"):
        src = Source("iiif", require_http(name[5:], "IIIF manifest URL"), "", {},
                     1.0 if min_interval is None else min_interval, "IIIF manifest")
    elif name in SOURCES:
        src = SOURCES[name]
    else:
        raise FetchError(f"unknown collection {name!r}; choose one of "
                         f"{', '.join(SOURCES)} or iiif:MANIFEST_URL")
    if base_url or query is not None:
        base = require_http(base_url, "--base-url") if base_url else src.base_url
        src = Source(src.kind, base,
                     src.query if query is None else query, src.params, src.min_interval,
                     src.description)
    return src


def source_items(src: Source, cache: ApiCache, *, limit: int, width: int,
                 iiif_url: str | None = None, full_size: bool = False) -> Iterator[Item]:
    """The items ``src`` lists (at most ``limit`` with an image), read through ``cache``.

    An answer of an unexpected shape (a list where a record should be, a number for a
    title, …) raises :class:`~simkit.fetch.http.FetchError` naming the source, not a
    traceback.
    """
    if src.kind == "aic":
        items = _aic_items(src, cache, limit, width, iiif_url)
    elif src.kind == "met":
        items = _met_items(src, cache, limit, full_size)
    else:
        items = _iiif_items(src.base_url, cache, limit, width)
    try:
        yield from items
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        if isinstance(e, SimkitError):
            raise
        raise FetchError(f"{src.base_url}: the server's answer is not shaped like a "
                         f"{src.kind} record ({type(e).__name__}: {e}); check the address "
                         f"(--base-url or the iiif: URL)") from None
