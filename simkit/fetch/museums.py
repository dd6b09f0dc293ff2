"""Fetch a public-domain ukiyo-e collection from an open-access museum, once, for offline use.

>>> fetch_collection("aic-ukiyoe", "prints", limit=400)          # doctest: +SKIP
>>> # later, offline: simkit study new prints --out my-study

A *collection* is a folder with ``images.csv`` and the image files::

    COLLECTION/
      images.csv      image_id, file, genre, title, artist, date, year, width, height,
                      source, source_id, source_url, image_url, licence, sha256, bytes, subjects
      images/         one JPEG per print (file is relative to COLLECTION/)
      refused.csv     items left out because their licence is not public domain / CC0
      SOURCE.md       where the images come from, when, under which licence
      .simkit-fetch/  the recorded API answers (a second run asks the museum nothing)

``images.csv`` has the columns of a study's images.csv (``image_id, file, genre``), so
``simkit study new COLLECTION`` and :class:`simkit.widgets.group_builder.GroupBuilder` read it.

Sources (``NAME``):

- ``aic-ukiyoe`` — the Art Institute of Chicago API (``api.artic.edu``): artworks search,
  ``is_public_domain`` per artwork, images from its IIIF Image API server
  (``{iiif_url}/{image_id}/full/843,/0/default.jpg``, the size the AIC recommends).
- ``met-ukiyoe`` — The Met Collection API (``collectionapi.metmuseum.org``): search (ids only),
  then one object record per id; ``isPublicDomain`` marks its CC0 open-access images.
- ``iiif:URL`` — any IIIF Presentation manifest (v2 or v3): one image per canvas through
  the canvas' IIIF Image API service; the manifest's ``license`` / ``rights`` is the licence.

Downloads are

- **cached**: a file whose sha256 matches images.csv is never fetched again, and the API
  answers are kept in ``.simkit-fetch/``, so a second run makes no request at all
  (``refresh=True`` asks the museum again);
- **checksummed**: sha256 and size of every file go to images.csv; a file that no longer
  matches (corrupt, truncated, edited) is fetched again;
- **resumable**: bytes arrive in ``NAME.part`` and continue with an HTTP ``Range`` request
  after an interruption; images.csv is saved as the run goes;
- **verified**: a download must have the announced length and decode as an image, or it is
  fetched again;
- **polite**: one request at a time, at most one per ``min_interval`` seconds (AIC asks for
  at most 60 a minute), a User-Agent that names simkit, retries with exponential back-off on
  429 and 5xx (honouring ``Retry-After``) and on dropped connections.

A licence that is not public domain / CC0 is refused (listed in refused.csv) unless the
user opts in with ``allow_licences`` (``--allow-licence LICENCE`` or ``any``).
"""
from __future__ import annotations

from simkit.errors import SimkitError

import hashlib
import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd

from simkit.fileio import atomic_write, write_csv, write_text
from simkit.features.cache import content_hash

__all__ = [
    "SOURCES", "COLUMNS", "FetchError", "LicenceRefused", "Item", "FetchReport",
    "fetch_collection", "load_collection", "infer_genre",
    "is_open_licence",
]

__version__ = "0.1.0"
USER_AGENT = (f"simkit/{__version__} (image-similarity research kit; "
              f"+https://github.com/simkit; one request at a time)")

#: Columns of a collection's images.csv, in order.
COLUMNS = ["image_id", "file", "genre", "title", "artist", "date", "year", "width", "height",
           "source", "source_id", "source_url", "image_url", "licence", "sha256", "bytes",
           "subjects"]

CC0 = "CC0-1.0"
PUBLIC_DOMAIN = "public-domain"
# Exactly these (or the Creative Commons public-domain URLs) count as open: a description
# such as "not public domain" must never pass, so no substring matching here.
_OPEN_TOKENS = {"cc0", "cc0-1.0", "cc0 1.0", "public-domain", "public domain", "pdm",
                "pdm-1.0", "public domain mark"}
_OPEN_URL_RE = re.compile(r"^https?://creativecommons\.org/publicdomain/(zero|mark)/1\.0/?$",
                          re.I)


class FetchError(SimkitError, RuntimeError):
    """A download could not be completed; the message says what to do (usually: run again)."""


class LicenceRefused(FetchError):
    """Every item was refused for its licence."""


class ItemGone(FetchError):
    """The server answered 4xx for one image: that item is skipped, the others go on."""


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


def _allowed(licence: str, allow: Iterable[str]) -> bool:
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

    @property
    def image_id(self) -> str:
        return f"{self.source}-{_safe(self.source_id)}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")[:80] or "x"


# -- HTTP -----------------------------------------------------------------------------------
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
              socket.timeout, TimeoutError)


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.wait = wait


class Http:
    """A polite HTTP client: rate limit, User-Agent, retries with exponential back-off.

    ``requests`` counts every request sent (tests use it to prove a rerun asks nothing).
    """

    def __init__(self, *, user_agent: str = USER_AGENT, min_interval: float = 1.0,
                 retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                 extra_headers: dict | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.user_agent = user_agent
        self.min_interval = float(min_interval)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.headers = {"User-Agent": user_agent, **(extra_headers or {})}
        self.requests = 0
        self._sleep = sleep
        self._last = 0.0

    def _wait_turn(self) -> None:
        gap = self.min_interval - (time.monotonic() - self._last)
        if gap > 0:
            self._sleep(gap)
        self._last = time.monotonic()

    def _open(self, url: str, headers: dict | None = None):
        self._wait_turn()
        self.requests += 1
        req = urllib.request.Request(url, headers={**self.headers, **(headers or {})})
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                wait = None
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after and retry_after.strip().isdigit():
                    wait = min(float(retry_after), 300.0)
                e.close()
                raise _Retry(f"HTTP {e.code} from {url}", wait) from None
            raise
        except _TRANSIENT as e:
            raise _Retry(f"{type(e).__name__}: {e} ({url})") from None

    def _with_retries(self, action: Callable[[int], object], what: str):
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return action(attempt)
            except _Retry as r:
                last = str(r)
                if attempt == self.retries:
                    break
                self._sleep(r.wait if r.wait is not None else self.backoff * 2 ** attempt)
            except urllib.error.HTTPError:
                raise  # 4xx: asking again will not help
            except _TRANSIENT as e:  # dropped while reading the body
                last = f"{type(e).__name__}: {e}"
                if attempt == self.retries:
                    break
                self._sleep(self.backoff * 2 ** attempt)
        raise FetchError(f"{what}: gave up after {self.retries + 1} tries ({last}); the "
                         f"server is busy or unreachable. Run the same command again later: "
                         f"it resumes where it stopped")

    def get_json(self, url: str) -> dict:
        def attempt(_):
            with self._open(url, {"Accept": "application/json"}) as resp:
                body = resp.read()
            try:
                return json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _Retry(f"{url} did not answer JSON") from None
        try:
            return self._with_retries(attempt, f"GET {url}")
        except urllib.error.HTTPError as e:
            raise FetchError(f"GET {url}: HTTP {e.code} {e.reason}; check the address "
                             f"(--base-url) and the query") from None

    def download(self, url: str, dest: Path, verify: Callable[[Path], None]) -> None:
        """Download ``url`` to ``dest`` (atomic rename), resuming ``dest.part`` if present.

        ``verify(part)`` raises ``ValueError`` for a corrupt file; it is then deleted and
        fetched again (counted as a try).
        """
        part = dest.with_name(dest.name + ".part")

        def attempt(_):
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                resp = self._open(url, headers)
            except urllib.error.HTTPError as e:
                if e.code == 416 and have:  # the .part is not a prefix we can extend
                    part.unlink()
                    raise _Retry(f"range not satisfiable for {url}", 0.0) from None
                raise
            with resp:
                resumed = have > 0 and resp.status == 206
                length = resp.headers.get("Content-Length")
                total = (have if resumed else 0) + int(length) if length else None
                with open(part, "ab" if resumed else "wb") as fh:
                    while True:
                        chunk = resp.read(1 << 16)
                        if not chunk:
                            break
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
            size = part.stat().st_size
            if total is not None and size < total:
                raise _Retry(f"{url}: connection dropped after {size} of {total} bytes", 0.0)
            try:
                verify(part)
            except ValueError as e:
                part.unlink(missing_ok=True)
                raise _Retry(f"{url}: corrupt download ({e})", 0.0) from None
            os.replace(part, dest)

        try:
            self._with_retries(attempt, f"download {url}")
        except urllib.error.HTTPError as e:
            raise ItemGone(f"download {url}: HTTP {e.code} {e.reason}") from None


def _url(base: str, path: str, params: dict | None = None) -> str:
    url = base.rstrip("/") + "/" + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params, safe="[],")
    return url


class _Cache:
    """API answers on disk, keyed by URL, so a rerun (or an offline workshop) asks nothing."""

    def __init__(self, root: Path, http: Http, refresh: bool) -> None:
        self.root, self.http, self.refresh = root / "api", http, refresh
        self.hits = 0

    def get_json(self, url: str) -> dict:
        path = self.root / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".json")
        if path.exists() and not self.refresh:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.hits += 1
                return data["body"]
            except (json.JSONDecodeError, KeyError):
                pass  # a damaged cache entry: ask again
        body = self.http.get_json(url)
        with atomic_write(path, "w", encoding="utf-8") as fh:
            json.dump({"url": url, "fetched": _now(), "body": body}, fh)
        return body


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- sources ---------------------------------------------------------------------------------
_AIC_FIELDS = ("id,title,artist_title,artist_display,date_display,date_start,image_id,"
               "is_public_domain,subject_titles,term_titles,classification_titles,"
               "style_titles,thumbnail")


def _aic_items(src: Source, cache: _Cache, limit: int, width: int,
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


def _met_items(src: Source, cache: _Cache, limit: int, full_size: bool) -> Iterator[Item]:
    """The Met: ``GET /search?q=…`` (object ids), then ``GET /objects/{id}`` for each."""
    data = cache.get_json(_url(src.base_url, "search", {"q": src.query, **src.params}))
    seen = 0
    for oid in data.get("objectIDs") or []:
        if seen >= limit:
            return
        o = cache.get_json(_url(src.base_url, f"objects/{oid}"))
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


def _iiif_items(manifest_url: str, cache: _Cache, limit: int, width: int) -> Iterator[Item]:
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


# -- the collection --------------------------------------------------------------------------
def _verify_image(path: Path) -> None:
    """Raise ValueError when ``path`` does not decode completely as an image."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            im.load()  # decodes every byte: catches truncation that verify() misses
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"not a complete image: {e}") from None


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image
    with Image.open(path) as im:
        return im.size


@dataclass
class FetchReport:
    """What a fetch did: counts, where, and what was refused or failed."""

    out: Path
    images: int = 0
    downloaded: int = 0
    reused: int = 0
    refetched_corrupt: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0

    def summary(self) -> str:
        lines = [f"collection: {self.out}", f"images: {self.images} "
                 f"({self.downloaded} downloaded, {self.reused} already here"
                 + (f", {self.refetched_corrupt} corrupt ones fetched again"
                    if self.refetched_corrupt else "") + ")",
                 f"requests sent: {self.requests}"]
        if self.refused:
            lines.append(f"refused (licence not public domain / CC0): {len(self.refused)} — "
                         f"see refused.csv; opt in with --allow-licence LICENCE")
        if self.failed:
            lines.append(f"failed: {len(self.failed)}")
            lines += [f"  {i}: {why}" for i, why in self.failed[:5]]
        return "\n".join(lines)


def _read_existing(out: Path) -> dict[str, dict]:
    path = out / "images.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {row["image_id"]: row for row in df.to_dict("records")}


def fetch_collection(name: str, out: str | os.PathLike, *, limit: int = 200,
                     query: str | None = None, base_url: str | None = None,
                     iiif_url: str | None = None, width: int = 843, full_size: bool = False,
                     allow_licences: Iterable[str] = (), refresh: bool = False,
                     min_interval: float | None = None, retries: int = 4,
                     backoff: float = 1.0, timeout: float = 60.0,
                     user_agent: str | None = None, progress: bool = True,
                     http: Http | None = None) -> FetchReport:
    """Fetch (or complete, or check) the collection ``name`` into the folder ``out``.

    ``name``: a key of :data:`SOURCES` (``aic-ukiyoe``, ``met-ukiyoe``) or ``iiif:URL`` of a
    IIIF manifest. ``limit``: at most this many prints (with images). ``query`` /
    ``base_url`` / ``iiif_url`` override the source's (tests point ``base_url`` at a local
    server). ``width``: pixel width asked of IIIF servers. ``allow_licences``: licences
    (substrings, or ``"any"``) accepted besides public domain / CC0.
    ``min_interval``: seconds between requests (default: the source's, 1 s for AIC).

    Safe to run again: finished files are checked against their sha256 and kept, partial
    ones resumed, corrupt ones fetched again. Raises :class:`FetchError` when the server
    stays unreachable (run again to resume) and :class:`LicenceRefused` when nothing
    could be fetched because of licences.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if name.startswith("iiif:"):
        src = Source("iiif", name[5:], "", {}, 1.0 if min_interval is None else min_interval,
                     "IIIF manifest")
    elif name in SOURCES:
        src = SOURCES[name]
    else:
        raise FetchError(f"unknown collection {name!r}; choose one of "
                         f"{', '.join(SOURCES)} or iiif:MANIFEST_URL")
    if base_url or query is not None:
        src = Source(src.kind, base_url or src.base_url,
                     src.query if query is None else query, src.params, src.min_interval,
                     src.description)
    ua = user_agent or USER_AGENT
    from simkit.config import contact as configured_contact

    contact = configured_contact()
    if contact and not user_agent:
        ua += f" contact: {contact}"
    if http is None:
        http = Http(user_agent=ua, min_interval=src.min_interval if min_interval is None
                    else min_interval, retries=retries, backoff=backoff, timeout=timeout,
                    # AIC asks API callers to identify themselves in this header
                    extra_headers={"AIC-User-Agent": ua} if src.kind == "aic" else None)
    cache = _Cache(out / ".simkit-fetch", http, refresh)
    report = FetchReport(out)

    if src.kind == "aic":
        items = _aic_items(src, cache, limit, width, iiif_url)
    elif src.kind == "met":
        items = _met_items(src, cache, limit, full_size)
    else:
        items = _iiif_items(src.base_url, cache, limit, width)

    existing = _read_existing(out)
    rows: dict[str, dict] = {}
    refused: list[dict] = []
    accepted: list[Item] = []
    ids_seen: set[str] = set()
    for it in items:
        if it.image_id in ids_seen:
            continue
        ids_seen.add(it.image_id)
        if _allowed(it.licence, allow_licences):
            accepted.append(it)
        else:
            refused.append({"source": it.source, "source_id": it.source_id, "title": it.title,
                            "licence": it.licence, "source_url": it.source_url,
                            "reason": "licence is not public domain / CC0; opt in with "
                                      "--allow-licence to fetch it"})
            report.refused.append((it.image_id, it.licence))

    def save() -> None:
        df = pd.DataFrame([rows[i.image_id] for i in accepted if i.image_id in rows],
                          columns=COLUMNS)
        write_csv(df, out / "images.csv")

    bar = tqdm(total=len(accepted), desc=f"fetch {name}", unit="img", disable=not progress)
    try:
        for k, it in enumerate(accepted):
            ext = ".png" if it.image_url.lower().endswith(".png") else ".jpg"
            file = f"images/{it.image_id}{ext}"
            dest = out / file
            old = existing.get(it.image_id)
            ok = False
            if dest.exists():
                if old and old.get("sha256"):
                    ok = content_hash(dest) == old["sha256"]
                else:  # written by an interrupted run before images.csv was saved
                    try:
                        _verify_image(dest)
                        ok = True
                    except ValueError:
                        ok = False
                if not ok:
                    report.refetched_corrupt += 1
                    dest.unlink()
            if ok:
                report.reused += 1
            else:
                try:
                    http.download(it.image_url, dest, _verify_image)
                except ItemGone as e:  # this item is gone; the others may be fine
                    report.failed.append((it.image_id, str(e)))
                    bar.update(1)
                    continue
                except FetchError as e:
                    raise FetchError(f"{e}\n({report.downloaded + report.reused} of "
                                     f"{len(accepted)} images are complete and kept)") from None
                report.downloaded += 1
            w, h = _image_size(dest)
            rows[it.image_id] = {
                "image_id": it.image_id, "file": file, "genre": it.genre, "title": it.title,
                "artist": it.artist, "date": it.date, "year": it.year, "width": str(w),
                "height": str(h), "source": it.source, "source_id": it.source_id,
                "source_url": it.source_url, "image_url": it.image_url,
                "licence": it.licence, "sha256": content_hash(dest),
                "bytes": str(dest.stat().st_size), "subjects": "; ".join(it.subjects)}
            bar.update(1)
            if k % 20 == 19:
                save()  # progress survives a crash
    finally:
        bar.close()
        save()
        if refused:
            write_csv(pd.DataFrame(refused), out / "refused.csv")
        elif (out / "refused.csv").exists():
            (out / "refused.csv").unlink()
        report.images = len(rows)
        report.requests = http.requests
        _write_source_note(out, name, src, report, len(accepted))
    if not accepted and refused:
        raise LicenceRefused(f"all {len(refused)} items were refused for their licence "
                             f"(see {out / 'refused.csv'}); opt in with --allow-licence "
                             f"LICENCE if you have the right to use them")
    return report


def _write_source_note(out: Path, name: str, src: Source, report: FetchReport,
                       n_accepted: int) -> None:
    text = f"""# Collection `{name}`

{src.description or src.kind}

- API: {src.base_url} (query: {src.query!r})
- fetched with simkit on {_now()}: {report.images} images of {n_accepted} accepted,
  {len(report.refused)} refused for their licence (refused.csv)
- licence of each image: the `licence` column of images.csv; source page: `source_url`

Only public-domain / CC0 images are fetched unless `--allow-licence` was given. Credit the
museum when you show the images. `genre` is inferred from the museum's subject terms and
titles (column `subjects`); it is empty where they say nothing clear — check it before
using it to group prints.
"""
    write_text(text, out / "SOURCE.md")


def load_collection(path: str | os.PathLike) -> pd.DataFrame:
    """The images of a collection (or of a study: same images.csv), checked, as strings.

    Adds ``path`` (absolute file path) and ``aspect`` (width / height, NaN if unknown).
    Raises :class:`~simkit.study.model.StudyError` naming the file and line of a problem.
    """
    from simkit.study.model import StudyError, _check_unique, _read_csv

    root = Path(path)
    if root.is_file() and root.name == "images.csv":
        root = root.parent
    if not (root / "images.csv").exists():
        raise StudyError(f"{root}: no images.csv; a collection is a folder made by "
                         f"`simkit fetch` (or a study folder)")
    df = _read_csv(root / "images.csv", "images.csv")
    _check_unique(df, "image_id", "image")
    lines = df.attrs.get("lines", [])
    df = df.reset_index(drop=True)
    df["path"] = [str(Path(f) if Path(f).is_absolute() else (root / f).resolve())
                  for f in df["file"]]
    if "width" in df.columns and "height" in df.columns:
        w = pd.to_numeric(df["width"], errors="coerce")
        h = pd.to_numeric(df["height"], errors="coerce")
        df["aspect"] = w / h
    else:
        df["aspect"] = float("nan")
    df.attrs.update(path=str(root / "images.csv"), lines=lines, root=str(root.resolve()))
    return df
