"""Where collections come from: the museum sources, their items, licences and genres.

Each reader turns a source's API answers (through an :class:`~simkit.fetch.http.ApiCache`)
into :class:`Item` records: the Art Institute of Chicago, The Met, or any IIIF manifest.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

from simkit.errors import SimkitError
from simkit.fetch.http import ApiCache, FetchError, require_http

__all__ = ["CC0", "PUBLIC_DOMAIN", "Source", "SOURCES", "GENRE_KEYWORDS", "Item",
           "infer_genre", "is_open_licence", "licence_allowed", "resolve_source",
           "source_items", "safe_id", "api_url"]


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
    """A named collection source: which API, where, what to ask for and how fast.

    ``filters``: server-side selection, ``(kind, field, value)`` triples (AIC: Elasticsearch
    ``term`` / ``match_phrase`` clauses). ``min_interval``: seconds between two requests to
    one host. ``throttle_wait``: the first wait after a 403 (a firewall's block lasts).
    """

    kind: str                 # "aic" | "met" | "iiif"
    base_url: str
    query: str = ""
    params: dict = field(default_factory=dict)
    min_interval: float = 1.0
    description: str = ""
    filters: tuple = ()
    throttle_wait: float = 30.0


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
    left_out: str = ""  # why a readable record has nothing to fetch (listed in refused.csv)

    @property
    def image_id(self) -> str:
        """The id in images.csv: ``SOURCE-SOURCE_ID``, safe as a file name."""
        return f"{self.source}-{safe_id(self.source_id)}"


def safe_id(text: str) -> str:
    """``text`` as a short file-name-safe id (letters, digits, ``_ . -``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")[:80] or "x"




def api_url(base: str, path: str, params: dict | None = None) -> str:
    """``base/path?params`` (brackets and commas left readable, as the APIs document)."""
    url = base.rstrip("/") + "/" + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params, safe="[],")
    return url



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
    from simkit.fetch import aic, iiif, met

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
