"""``simkit fetch --check``: a live check of the services simkit fetch reads, for maintainers.

One search page and one image from each service (AIC search + IIIF image, AIC's IIIF
manifest + ``info.json``, The Met search + object + image), each compared with what the
readers expect (field names and types, the paging shape, the UUID image ids, the v1.1
search). Run on a machine with internet, it is how drift in the museums' APIs is caught.
Without network it stops at the first request with :class:`~simkit.fetch.http.Unreachable`.
"""
from __future__ import annotations

import re
import tempfile
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from simkit.fetch.aic import aic_params
from simkit.fetch.http import ApiCache, FetchError, Http, Unreachable
from simkit.fetch.iiif import iiif_items
from simkit.fetch.met import met_v11_base
from simkit.fetch.records import api_url
from simkit.fetch.sources import SOURCES

__all__ = ["CHECK_TARGETS", "CheckLine", "live_check"]

#: Where the check asks (tests point these at a closed local port).
CHECK_TARGETS = {"aic": SOURCES["aic-ukiyoe"].base_url, "met": SOURCES["met-ukiyoe"].base_url}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class CheckLine:
    """One finding: which service, whether it is as expected, and what was seen."""

    service: str
    ok: bool
    what: str

    def __str__(self) -> str:
        return f"{'ok     ' if self.ok else 'CHANGED'} {self.service}: {self.what}"


def _missing(record: dict, keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if k not in record]


def _image(http: Http, url: str, folder: Path, name: str) -> str:
    """Download one image and say its size (raises on failure)."""
    from simkit.features.images import verify_image
    from simkit.fetch.collection import image_size

    dest = folder / f"{name}.jpg"
    http.download(url, dest, verify_image)
    w, h = image_size(dest)
    return f"image {w}x{h} from {url}"


def _aic(http: Http, cache: ApiCache, folder: Path, lines: list[CheckLine]) -> None:
    src = replace(SOURCES["aic-ukiyoe"], base_url=CHECK_TARGETS["aic"])
    page = cache.get_json(api_url(src.base_url, "artworks/search",
                                  {**aic_params(src, 1, True), "limit": 2}))
    gaps = _missing(page.get("pagination") or {}, ("total", "limit", "offset", "total_pages",
                                                   "current_page"))
    rows = page.get("data") or []
    row = rows[0] if rows else {}
    gaps += _missing(row, ("id", "title", "image_id", "is_public_domain"))
    iiif = (page.get("config") or {}).get("iiif_url")
    uuid = bool(_UUID.match(str(row.get("image_id") or "")))
    total = (page.get("pagination") or {}).get("total")
    lines.append(CheckLine("aic search", not gaps and bool(iiif) and uuid and bool(total),
                           f"{total} public-domain ukiyo-e matches; missing fields: "
                           f"{gaps or 'none'}; config.iiif_url: {iiif}; UUID image ids: "
                           f"{uuid}"))
    if row.get("image_id") and iiif:
        url = f"{iiif.rstrip('/')}/{row['image_id']}/full/843,/0/default.jpg"
        lines.append(CheckLine("aic image", True, _image(http, url, folder, "aic")))
        manifest = api_url(src.base_url, f"artworks/{row['id']}/manifest.json")
        item = next(iiif_items(manifest, cache, width=843, notes=[]))
        lines.append(CheckLine("aic iiif manifest", bool(item.image_url),
                               f"licence read: {item.licence!r}; image: {item.image_url}"))


def _met(http: Http, cache: ApiCache, folder: Path, lines: list[CheckLine]) -> None:
    src = replace(SOURCES["met-ukiyoe"], base_url=CHECK_TARGETS["met"])
    params = {"q": src.query, **src.params}
    v11 = met_v11_base(src.base_url)
    paged = v11 and cache.get_json(api_url(v11, "search", {**params, "offset": 0,
                                                          "limit": 2}), missing_ok=True)
    lines.append(CheckLine("met v1.1 search", True, "answers (offset/limit paging)" if paged
                           else "absent: the v1 search is used"))
    search = paged or cache.get_json(api_url(src.base_url, "search", params))
    ids = search.get("objectIDs") or []
    lines.append(CheckLine("met search", bool(ids), f"{search.get('total')} objects"))
    if not ids:
        return
    obj = cache.get_json(api_url(src.base_url, f"objects/{ids[0]}"))
    gaps = _missing(obj, ("objectID", "isPublicDomain", "primaryImage", "primaryImageSmall",
                          "title", "artistDisplayName", "objectDate", "objectURL"))
    lines.append(CheckLine("met object", not gaps, f"object {ids[0]}; missing fields: "
                                                   f"{gaps or 'none'}"))
    image = obj.get("primaryImageSmall") or obj.get("primaryImage")
    if image:
        lines.append(CheckLine("met image", True, _image(http, image, folder, "met")))


def live_check(http: Http | None = None,
               notify: Callable[[str], None] | None = None) -> list[CheckLine]:
    """Ask each service for one page and one image; one :class:`CheckLine` per finding.

    Raises :class:`~simkit.fetch.http.Unreachable` when the first service cannot be
    reached at all (no network); a later failure is reported as a CHANGED line.
    """
    # No retry: offline, the answer is one line at once, not minutes of back-off.
    http = http or Http(min_interval=1.0, retries=0, timeout=20.0, notify=notify)
    lines: list[CheckLine] = []
    with tempfile.TemporaryDirectory(prefix="simkit-check-") as tmp:
        cache = ApiCache(Path(tmp), http, refresh=True)
        for name, check in (("aic", _aic), ("met", _met)):
            try:
                check(http, cache, Path(tmp), lines)
            except Unreachable as e:
                why = re.search(r"\[Errno -?\d+\] ([^>)]+)", str(e))
                host = urllib.parse.urlsplit(CHECK_TARGETS[name]).netloc
                reason = f"cannot reach {host} ({why.group(1) if why else 'no answer'})"
                if not lines:
                    raise Unreachable(reason) from None
                lines.append(CheckLine(name, False, reason))
            except (FetchError, StopIteration, AttributeError, TypeError, KeyError) as e:
                lines.append(CheckLine(name, False, f"{type(e).__name__}: {e}"))
    return lines
