"""A source's records: the :class:`Source` description, the :class:`Item` each reader makes,
licences and genres, and small helpers the readers share.

Below the readers (:mod:`simkit.fetch.aic`, :mod:`simkit.fetch.met`,
:mod:`simkit.fetch.iiif`); :mod:`simkit.fetch.sources` lists the sources and picks the reader.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["CC0", "PUBLIC_DOMAIN", "Source", "GENRE_KEYWORDS", "Item", "infer_genre",
           "is_open_licence", "licence_allowed", "safe_id", "api_url"]


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
