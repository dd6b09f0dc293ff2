"""IIIF: Presentation manifests (2.1 and 3.0, and collections of them) and Image services.

One item per canvas, through the canvas' IIIF Image API service. The service's
``info.json`` says what may be asked:

- Image API 3.0 forbids ``w,`` wider than the region (a 400; ``^w,`` would upscale) and
  names the whole image ``max``; 2.x names it ``full`` and allows a larger ``w,`` only with
  ``sizeAboveFull``. So: ``w,`` when the image is wider than asked, else ``max``/``full``.
- A level-0 service need not scale at all: only the ``sizes`` it lists (as ``w,h``) or the
  whole image.

The licence is the most specific one stated: canvas, then its image annotation, then the
manifest (``rights`` in 3.0, ``license`` in 2.1); failing those, an ``attribution`` /
``requiredStatement`` that names a public-domain dedication itself (AIC's 2.1 manifests
carry only that); for an AIC manifest (``…/api/v1/artworks/ID/manifest.json``) that states
none, the artwork's ``is_public_domain`` in the same API. Metadata labels are matched by
meaning in any language of the label.
"""
from __future__ import annotations

import re
from typing import Iterator

from simkit.fetch.http import ApiCache, ItemGone, require_http
from simkit.fetch.records import CC0, PUBLIC_DOMAIN, Item, infer_genre, safe_id

__all__ = ["ARTIST_LABELS", "DATE_LABELS", "lang_text", "label_meaning", "manifest_metadata",
           "item_licence", "service_base", "service_version", "service_level",
           "image_size_param", "iiif_items", "aic_manifest_licence", "UNKNOWN"]

ARTIST_LABELS = {"artist", "artist / maker", "maker", "creator", "author", "printmaker",
                 "designer", "painter", "illustrator", "artist/maker", "artists", "makers",
                 "creators", "artiste", "künstler", "作者", "絵師"}
DATE_LABELS = {"date", "dates", "created", "date created", "creation date", "date made",
               "dated", "date of creation", "date of publication", "年代", "制作年"}
#: Collections nest; deeper than this is taken to be a loop.
MAX_DEPTH = 3
_OPEN_URL_RE = re.compile(r"https?://creativecommons\.org/publicdomain/(zero|mark)/1\.0/?",
                          re.I)
_NEGATION_RE = re.compile(r"\b(not|no|non|never)\b", re.I)
_AIC_MANIFEST_RE = re.compile(r"^(.*/api/v1)/artworks/(\d+)/manifest\.json$")
UNKNOWN = "unknown (the manifest states no licence)"


def lang_text(value: object) -> str:
    """A IIIF label/value (string, list, 2.1 ``@value`` objects, 3.0 language map) as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(filter(None, (lang_text(v) for v in value)))
    if isinstance(value, dict):
        if "@value" in value:
            return str(value["@value"])
        for key in ("en", "none", *value.keys()):
            if key in value:
                return lang_text(value[key])
    return str(value)


def _all_texts(value) -> list[str]:
    """Every text of a label in every language (a label means the same in each)."""
    if isinstance(value, dict) and "@value" not in value:
        return [t for v in value.values() for t in _all_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _all_texts(v)]
    text = lang_text(value)
    return [text] if text else []


def label_meaning(label: object) -> str:
    """``"artist"``, ``"date"``, ``"genre"`` or ``""``: what a metadata label means.

    >>> label_meaning({"en": ["Artist / Maker"]}), label_meaning("Date:")
    ('artist', 'date')
    """
    for text in _all_texts(label):
        norm = text.strip().strip(":").strip().lower()
        parts = {p.strip() for p in re.split(r"[/;,|&]| and ", norm)} | {norm}
        if parts & ARTIST_LABELS:
            return "artist"
        if parts & DATE_LABELS:
            return "date"
        if norm in ("genre", "type", "subject", "subjects"):
            return "genre"
    return ""


def manifest_metadata(m: dict) -> dict[str, str]:
    """The manifest's artist, date and genre (the first entry of each meaning)."""
    found: dict[str, str] = {}
    for entry in m.get("metadata") or []:
        if isinstance(entry, dict):
            meaning = label_meaning(entry.get("label"))
            if meaning and meaning not in found:
                found[meaning] = lang_text(entry.get("value"))
    return found


def _stated(obj: dict) -> str:
    value = obj.get("rights") or obj.get("license") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("id") or value.get("@id") or ""
    return str(value).strip()


def _attributed(obj: dict) -> str:
    """A public-domain licence that an attribution line states itself, else ""."""
    statement = obj.get("requiredStatement") or {}
    text = " ".join([lang_text(obj.get("attribution")),
                     lang_text(statement.get("value")) if isinstance(statement, dict) else ""])
    url = _OPEN_URL_RE.search(text)
    if url:
        return url.group(0)
    if _NEGATION_RE.search(text):  # "not in the public domain" must never pass
        return ""
    if re.search(r"\bCC0\b", text, re.I):
        return CC0
    if re.search(r"\bpublic domain\b", text, re.I):
        return PUBLIC_DOMAIN
    return ""


def item_licence(*objs: dict) -> str:
    """The licence of an image: stated by the most specific of ``objs``, else attributed."""
    for rule in (_stated, _attributed):
        for obj in objs:
            if isinstance(obj, dict) and rule(obj):
                return rule(obj)
    return UNKNOWN


def aic_manifest_licence(manifest_url: str, cache: ApiCache) -> str:
    """For an AIC manifest, the artwork's licence from the API's ``is_public_domain``
    (AIC's 2.1 manifests carry an attribution only); ``""`` for any other manifest."""
    found = _AIC_MANIFEST_RE.match(manifest_url)
    if not found:
        return ""
    try:
        record = cache.get_json(f"{found.group(1)}/artworks/{found.group(2)}"
                                f"?fields=id,is_public_domain")
    except ItemGone:
        return ""
    data = record.get("data") or {}
    return PUBLIC_DOMAIN if data.get("is_public_domain") is True else ""


def service_base(service: dict) -> str:
    """The service's id without a trailing ``/info.json`` or ``/``."""
    base = str(service.get("id") or service.get("@id") or "").rstrip("/")
    return base[: -len("/info.json")] if base.endswith("/info.json") else base


def _profile(info: dict) -> str:
    profile = info.get("profile") or ""
    if isinstance(profile, list):
        profile = next((p for p in profile if isinstance(p, str)), "")
    return str(profile)


def service_version(info: dict) -> int:
    """2 or 3: the Image API version of a service description or ``info.json``."""
    kind = str(info.get("type") or info.get("@type") or "")
    context = str(info.get("@context") or "")
    if kind == "ImageService3" or "image/3" in context:
        return 3
    if kind == "ImageService2" or "image/2" in context or "image/2" in _profile(info):
        return 2
    return 3 if _profile(info) in ("level0", "level1", "level2") else 2


def service_level(info: dict) -> int:
    """The compliance level (0, 1 or 2) the profile names; 1 when it names none."""
    found = re.search(r"level([012])", _profile(info))
    return int(found.group(1)) if found else 1


def image_size_param(info: dict, width: int) -> str:
    """The ``size`` segment to ask ``info``'s service for an image about ``width`` wide."""
    version, level = service_version(info), service_level(info)
    whole = "max" if version == 3 else "full"
    if level == 0:  # only the listed sizes, or the whole image
        sizes = sorted((int(s["width"]), int(s["height"])) for s in info.get("sizes") or []
                       if isinstance(s, dict) and s.get("width") and s.get("height"))
        if not sizes:
            return whole
        w, h = next(((w, h) for w, h in sizes if w >= width), sizes[-1])
        return f"{w},{h}"
    image_w, max_w = info.get("width"), info.get("maxWidth")
    if not image_w and version == 3:
        return whole  # a w, wider than the image would be a 400
    if (image_w and width >= int(image_w)) or (max_w and width > int(max_w)):
        return whole
    return f"{width},"


def _painting(canvas: dict) -> tuple[dict, dict | None]:
    """(the painting annotation, its image service) of a 2.1 or 3.0 canvas."""
    annotations = list(canvas.get("images") or [])  # 2.1
    for page in canvas.get("items") or []:  # 3.0
        annotations += [a for a in (page.get("items") or []) if isinstance(a, dict)]
    for anno in annotations:
        body = anno.get("resource") or anno.get("body") or {}
        if isinstance(body, list):
            body = body[0] if body else {}
        service = body.get("service")
        if isinstance(service, list):
            service = next((s for s in service if isinstance(s, dict)), None)
        if isinstance(service, dict) or body.get("id") or body.get("@id"):
            return anno, service if isinstance(service, dict) else None
    return {}, None


def _image_url(service: dict | None, anno: dict, canvas: dict, cache: ApiCache,
               width: int) -> str:
    """The image address: the service asked at a size its info.json allows."""
    body = anno.get("resource") or anno.get("body") or {}
    if isinstance(body, list):
        body = body[0] if body else {}
    if service is None:
        return str(body.get("id") or body.get("@id") or "")
    base = service_base(service)
    require_http(base, "IIIF image service")
    try:
        info = {**service, **(cache.get_json(f"{base}/info.json") or {})}
    except ItemGone:  # no info.json: what the manifest says of the service and canvas
        info = {"width": body.get("width") or canvas.get("width"), **service}
    return f"{base}/full/{image_size_param(info, width)}/0/default.jpg"


def _canvas_item(m: dict, meta: dict, canvas: dict, manifest_url: str, cache: ApiCache,
                 width: int) -> Item:
    anno, service = _painting(canvas)
    body = anno.get("resource") or anno.get("body") or {}
    title = lang_text(canvas.get("label")) or lang_text(m.get("label"))
    date = meta.get("date", "")
    homepage = m.get("homepage") or m.get("related") or ""
    if isinstance(homepage, list):
        homepage = homepage[0] if homepage else ""
    if isinstance(homepage, dict):
        homepage = homepage.get("id") or homepage.get("@id") or ""
    key = service_base(service) if service else str(canvas.get("id") or canvas.get("@id"))
    item = Item(source="iiif", source_id=safe_id(key.rstrip("/").rsplit("/", 1)[-1]),
                title=title, artist=meta.get("artist", ""), date=date,
                year=(re.search(r"\d{4}", date).group(0) if re.search(r"\d{4}", date) else ""),
                image_url="", source_url=str(homepage or manifest_url),
                licence=item_licence(canvas, anno, body if isinstance(body, dict) else {}, m),
                genre=infer_genre(lang_text(m.get("label")), title, meta.get("genre", "")))
    try:
        item.image_url = _image_url(service, anno, canvas, cache, width)
    except ItemGone as e:  # this canvas' service is refused; the others go on
        item.error = str(e)
    if not item.image_url and not item.error:
        item.left_out = "the canvas has no image (no painting annotation or image service)"
    return item


def iiif_items(manifest_url: str, cache: ApiCache, *, width: int, notes: list[str],
               depth: int = 0) -> Iterator[Item]:
    """One item per canvas of the manifest, or of every manifest of a collection."""
    m = cache.get_json(manifest_url)
    kind = str(m.get("type") or m.get("@type") or "")
    if kind.endswith("Collection"):
        members = [*(m.get("manifests") or []), *(m.get("collections") or []),
                   *(m.get("members") or []), *(m.get("items") or [])]
        for ref in members:
            url = ref.get("id") or ref.get("@id") if isinstance(ref, dict) else None
            if not url or depth >= MAX_DEPTH:
                continue
            try:
                yield from iiif_items(require_http(url, "IIIF manifest URL"), cache,
                                      width=width, notes=notes, depth=depth + 1)
            except ItemGone as e:  # one member is gone or refused; the others go on
                notes.append(f"{url}: left out ({e})")
        return
    meta = manifest_metadata(m)
    aic_licence: list[str] = []  # asked once, for the first canvas without a licence
    canvases = (m.get("items") or
                [c for s in (m.get("sequences") or []) for c in (s.get("canvases") or [])])
    for canvas in canvases:
        if isinstance(canvas, dict):
            item = _canvas_item(m, meta, canvas, manifest_url, cache, width)
            if item.licence == UNKNOWN:
                if not aic_licence:
                    aic_licence.append(aic_manifest_licence(manifest_url, cache))
                item.licence = aic_licence[0] or UNKNOWN
            yield item
