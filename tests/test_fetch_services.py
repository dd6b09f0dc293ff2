"""simkit fetch against a local server that enforces the real services' rules (issue 18).

- The Met: a firewall that answers 403 (an Incapsula page) after more than 30 requests in
  10 s and then blocks for 30 s (metmuseum/openaccess #58, #60); objects that are not public
  domain carry no image; a v1.1 search with offset/limit paging, or none.
- AIC: at most 1,000 results per search (page 11 of 100 is a 403), public-domain and other
  filters run on the server, UUID image ids, ``pagination`` as the API gives it.
- IIIF: Image API 2.1 and 3.0 services at level 0 and 2, which refuse a size they do not
  support (400): a ``w,`` wider than the image in 3.0, anything but the listed sizes or the
  whole image at level 0, ``full`` in 3.0; Presentation 2.1 and 3.0 manifests shaped like
  the specifications' examples, and a collection of them.

Time is virtual: the client's ``sleep`` moves the server's clock on (``Museum.sleep``), so
paces of a second and back-offs of 45 s cost nothing here.
"""
from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pandas as pd
import pytest
from PIL import Image
from test_datasets import FAST, Museum, _jpeg, _met_object, museum  # noqa: F401 (fixture)

from simkit.fetch.collection import LicenceRefused, fetch_collection
from simkit.fetch.http import CHALLENGE, Http, retry_after_seconds
from simkit.fetch.iiif import image_size_param, item_licence, label_meaning

MET = "/public/collection/v1"
MET_SEARCH = f"{MET}/search?q=ukiyo-e&hasImages=true&departmentId=6"
QUICK = dict(timeout=5, progress=False, retries=4)


# -- the HTTP client: waits, Retry-After, pacing -----------------------------------------------
def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_pacing_is_per_host():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    http = Http(min_interval=1.0, host_intervals={"b.example": 0.0}, sleep=sleep,
                clock=lambda: now[0])
    for url in ("http://a.example/1", "http://b.example/1", "http://a.example/2",
                "http://b.example/2"):
        http._wait_turn(url)  # noqa: SLF001 (the pacing alone, no request)
    assert slept == [1.0], "only the second request to a.example waits"


def _met_objects(museum: Museum, n: int, base: str = MET) -> dict[str, set[int]]:
    """``n`` objects: every 5th not public domain (and so without image, as at the Met),
    every 7th public domain but without image; the rest public domain with an image."""
    kinds: dict[str, set[int]] = {"open": set(), "closed": set(), "no_image": set()}
    for oid in range(1, n + 1):
        closed, no_image = oid % 5 == 0, oid % 7 == 0 and oid % 5 != 0
        image = "" if closed or no_image else f"{museum.base}/CRDImages/as/web-large/{oid}.jpg"
        obj = _met_object(oid, f"Print {oid}", not closed, image, ["Actors"])
        museum.json[f"{base}/objects/{oid}"] = obj
        if image:
            museum.images[urlparse(image).path] = SMALL
        kinds["closed" if closed else "no_image" if no_image else "open"].add(oid)
    return kinds


SMALL = _jpeg((120, 30, 30), (40, 56))


def test_met_limit_200_passes_the_firewall_and_records_each_left_out(museum, tmp_path):
    museum.burst = (30, 10.0, 30.0)
    kinds = _met_objects(museum, 300)
    museum.json[MET_SEARCH] = {"total": 300, "objectIDs": list(range(1, 301))}
    out = tmp_path / "met"
    lines: list[str] = []
    report = fetch_collection("met-ukiyoe", out, base_url=f"{museum.base}{MET}", limit=200,
                              sleep=museum.sleep, notify=lines.append, **QUICK)
    df = pd.read_csv(out / "images.csv", dtype=str)
    assert len(df) == 200 and report.images == 200 and not report.failed
    kept = {int(i.split("-")[1]) for i in df["image_id"]}
    assert kept <= kinds["open"]
    last = max(kept)  # every open item up to the last one listed is kept
    assert kept == {o for o in kinds["open"] if o <= last}
    refused = pd.read_csv(out / "refused.csv", dtype=str)
    left = {int(i): why for i, why in zip(refused["source_id"], refused["reason"])}
    assert set(left) == {o for o in kinds["closed"] | kinds["no_image"] if o < last}
    assert all("--allow-licence" in left[o] for o in kinds["closed"] if o < last)
    assert all("no open-access image" in left[o] for o in kinds["no_image"] if o < last)
    assert museum.refused_403 == 0, "one request a second stays under the firewall"
    assert museum.skipped >= 400  # ~1 s per request: realistic times in the README


def test_met_firewall_403_is_waited_out_not_an_address_error(museum, tmp_path):
    museum.burst = (30, 10.0, 30.0)
    _met_objects(museum, 40)
    museum.json[MET_SEARCH] = {"total": 40, "objectIDs": list(range(1, 41))}
    lines: list[str] = []
    report = fetch_collection("met-ukiyoe", tmp_path / "met", base_url=f"{museum.base}{MET}",
                              min_interval=0.0, sleep=museum.sleep, notify=lines.append,
                              **QUICK)
    assert museum.refused_403 > 0, "the burst tripped the firewall"
    assert not report.failed and report.images == 28  # 40 - 8 closed - 4 without image
    assert any("the museum's firewall is throttling us (HTTP 403)" in ln
               and "waiting 45 s" in ln for ln in lines), lines
    assert "check the address" not in " ".join(lines)
    assert report.waited >= 45


def test_met_v11_search_is_paged_and_v1_is_the_fallback(museum, tmp_path):
    _met_objects(museum, 150)

    def v11(query):
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        return 200, {"total": 150, "objectIDs": list(range(1, 151))[offset:offset + limit]}, \
            "application/json", {}
    museum.routes["/public/collection/v1.1/search"] = v11
    report = fetch_collection("met-ukiyoe", tmp_path / "a", base_url=f"{museum.base}{MET}",
                              limit=500, min_interval=0.0, **QUICK)
    pages = [r["query"] for r in museum.log if r["path"].endswith("v1.1/search")]
    assert [p["offset"] for p in pages] == [["0"], ["100"]]
    assert not any(r["path"] == f"{MET}/search" for r in museum.log)
    assert report.images == 150 - 30 - 17  # 21 multiples of 7, 4 of them of 35
    # no v1.1 here: the v1 search, and the missing v1.1 is asked once, not on every rerun
    del museum.routes["/public/collection/v1.1/search"]
    museum.json[MET_SEARCH] = {"total": 150, "objectIDs": list(range(1, 151))}
    out = tmp_path / "b"
    fetch_collection("met-ukiyoe", out, base_url=f"{museum.base}{MET}", limit=5,
                     min_interval=0.0, **QUICK)
    n = len(museum.log)
    report = fetch_collection("met-ukiyoe", out, base_url=f"{museum.base}{MET}", limit=5,
                              min_interval=0.0, **QUICK)
    assert len(museum.log) == n and report.reused == 5


def test_met_all_closed_is_refused_for_licence(museum, tmp_path):
    museum.json[MET_SEARCH] = {"total": 1, "objectIDs": [5]}
    museum.json[f"{MET}/objects/5"] = _met_object(5, "Closed", False, "", [])
    with pytest.raises(LicenceRefused, match="--allow-licence"):
        fetch_collection("met-ukiyoe", tmp_path / "c", base_url=f"{museum.base}{MET}",
                         min_interval=0.0, **QUICK)


# -- AIC: the 1,000-result cap ------------------------------------------------------------------
def _uuid(n: int) -> str:
    return f"{n:08x}-8489-499b-cad2-821d7fde4b33"


def test_aic_limit_1500_keeps_everything_up_to_the_cap_and_says_how_to_get_more(museum,
                                                                               tmp_path):
    from test_datasets import aic_search

    records = [{"id": 1000 + n, "title": f"Print {n}", "artist_title": "Hokusai",
                "artist_display": "Katsushika Hokusai\nJapanese, 1760-1849",
                "date_display": "1830", "date_start": 1830, "image_id": _uuid(n),
                "is_public_domain": n % 10 != 0, "subject_titles": [],
                "term_titles": ["woodblock print"], "classification_titles": ["woodblock print"],
                "style_titles": [], "department_title": "Arts of Asia"} for n in range(1800)]
    museum.routes["/api/v1/artworks/search"] = aic_search(museum, records)
    for r in records:
        museum.images[f"/iiif/2/{r['image_id']}/full/843,/0/default.jpg"] = SMALL
    out = tmp_path / "aic"
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1",
                              limit=1500, min_interval=0.0, **QUICK)
    assert report.images == 1000 and not report.failed and not report.refused
    assert museum.aic_pages == 10, "page 11 (from + size > 1,000) is never asked"
    assert any("AIC search stops at 1,000 results; narrow with --query or use AIC's public "
               "data dump" in n for n in report.notes)
    assert "1,620 match" in report.summary()
    df = pd.read_csv(out / "images.csv", dtype=str)
    assert df["image_url"].str.contains(r"/iiif/2/[0-9a-f]{8}-8489-").all()


def test_aic_image_host_browser_challenge_is_named(museum, tmp_path):
    from test_datasets import AIC_ARTWORKS, serve_aic

    serve_aic(museum)
    path = f"/iiif/2/{AIC_ARTWORKS[0][5]}/full/843,/0/default.jpg"

    def challenge(query):
        return 403, b"<!DOCTYPE html><title>Just a moment...</title>", "text/html", \
            {"cf-mitigated": "challenge"}
    museum.routes[path] = challenge
    del museum.images[path]
    lines: list[str] = []
    report = fetch_collection("aic-ukiyoe", tmp_path / "aic", base_url=f"{museum.base}/api/v1",
                              min_interval=0.0, sleep=museum.sleep, notify=lines.append,
                              **{**QUICK, "retries": 1})
    assert report.images == 4 and len(report.failed) == 1
    assert CHALLENGE in report.failed[0][1]
    assert any("browser challenge" in ln for ln in lines)


# -- IIIF: Image API 2.1 / 3.0 services, level 0 and 2 -----------------------------------------
class Services:
    """IIIF image services under /img2/ and /img3/ that refuse what they do not support."""

    def __init__(self, museum: Museum) -> None:
        self.museum, self.images = museum, {}
        museum.prefixes["/img2/"] = self.answer
        museum.prefixes["/img3/"] = self.answer

    def add(self, version: int, level: int, ident: str, size: tuple[int, int],
            sizes: list[tuple[int, int]] = ()) -> str:
        self.images[(version, ident)] = (level, size, list(sizes))
        return f"{self.museum.base}/img{version}/{ident}"

    def info(self, version: int, ident: str) -> dict:
        level, (w, h), sizes = self.images[(version, ident)]
        base = f"{self.museum.base}/img{version}/{ident}"
        listed = [{"width": a, "height": b} for a, b in sizes]
        if version == 3:
            return {"@context": "http://iiif.io/api/image/3/context.json", "id": base,
                    "type": "ImageService3", "protocol": "http://iiif.io/api/image",
                    "profile": f"level{level}", "width": w, "height": h,
                    **({"sizes": listed} if listed else {})}
        return {"@context": "http://iiif.io/api/image/2/context.json", "@id": base,
                "protocol": "http://iiif.io/api/image", "width": w, "height": h,
                "profile": [f"http://iiif.io/api/image/2/level{level}.json"],
                **({"sizes": listed} if listed else {})}

    def answer(self, path: str, query: dict):
        m = re.fullmatch(r"/img([23])/([^/]+)/(info\.json|full/([^/]+)/0/default\.jpg)", path)
        if not m or (int(m.group(1)), m.group(2)) not in self.images:
            return 404, b"not found", "text/plain", {}
        version, ident, size = int(m.group(1)), m.group(2), m.group(4)
        if m.group(3) == "info.json":
            return 200, self.info(version, ident), "application/json", {}
        out = self.size(version, ident, size)
        if out is None:
            return 400, f"size {size} not supported".encode(), "text/plain", {}
        buf = io.BytesIO()
        Image.new("RGB", out, (20, 90, 160)).save(buf, "JPEG")
        return 200, buf.getvalue(), "image/jpeg", {}

    def size(self, version: int, ident: str, size: str) -> tuple[int, int] | None:
        """The pixel size a conforming server returns, or None for a 400."""
        level, (w, h), sizes = self.images[(version, ident)]
        if size == ("max" if version == 3 else "full") or (version == 2 and size == "max"):
            return (w, h)
        m = re.fullmatch(r"(\^?)(\d+),(\d*)", size)
        if not m:
            return None
        up, sw, sh = m.group(1), int(m.group(2)), int(m.group(3) or 0)
        if sh and (sw, sh) in sizes:
            return (sw, sh)
        if level == 0 or (version == 2 and up) or sh:
            return None
        if sw > w and not up:
            return None  # 3.0: w, wider than the image; 2.1: no sizeAboveFull
        return (sw, max(1, round(h * sw / w)))


def _v3_manifest(base: str, services: list[str], **extra) -> dict:
    """A manifest shaped like the Presentation 3.0 specification's example."""
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}/m3.json", "type": "Manifest",
        "label": {"en": ["Thirty-six Views of Mount Fuji"]},
        "metadata": [{"label": {"en": ["Artist / Maker"]},
                      "value": {"en": ["Katsushika Hokusai"]}},
                     {"label": {"ja": ["年代"], "en": ["Date"]}, "value": {"none": ["1831"]}}],
        "rights": "http://creativecommons.org/publicdomain/mark/1.0/",
        "items": [{"id": f"{base}/c{k}", "type": "Canvas", "label": {"en": [f"View {k}"]},
                   "height": 600, "width": 900,
                   "items": [{"id": f"{base}/c{k}/p", "type": "AnnotationPage", "items": [{
                       "id": f"{base}/c{k}/a", "type": "Annotation", "motivation": "painting",
                       "target": f"{base}/c{k}",
                       "body": {"id": f"{svc}/full/max/0/default.jpg", "type": "Image",
                                "format": "image/jpeg",
                                "service": [{"id": svc, "type": "ImageService3",
                                             "profile": "level2"}]}}]}]}
                  for k, svc in enumerate(services)], **extra}


def _v2_manifest(base: str, services: list[str], **extra) -> dict:
    """A manifest shaped like the Presentation 2.1 specification's example (and AIC's)."""
    return {
        "@context": "http://iiif.io/api/presentation/2/context.json",
        "@id": f"{base}/m2.json", "@type": "sc:Manifest",
        "label": "Fifty-three Stations of the Tokaido",
        "metadata": [{"label": "Artist / Maker", "value": "Utagawa Hiroshige\nJapanese"},
                     {"label": "Date", "value": "1833/34"}],
        "sequences": [{"@type": "sc:Sequence", "canvases": [{
            "@id": f"{base}/c2/{k}", "@type": "sc:Canvas", "label": f"Station {k}",
            "height": 600, "width": 900,
            "images": [{"@type": "oa:Annotation", "motivation": "sc:painting",
                        "on": f"{base}/c2/{k}",
                        "resource": {"@id": f"{svc}/full/full/0/default.jpg",
                                     "@type": "dctypes:Image", "format": "image/jpeg",
                                     "service": {
                                         "@context": "http://iiif.io/api/image/2/context.json",
                                         "@id": f"{svc}/info.json",  # a trailing info.json
                                         "profile": "http://iiif.io/api/image/2/level2.json"}}}]}
            for k, svc in enumerate(services)]}], **extra}


@pytest.mark.parametrize("version", [2, 3])
def test_iiif_manifests_levels_0_and_2_smaller_and_larger_images(museum, tmp_path, version):
    svc = Services(museum)
    services = [svc.add(version, 2, "big", (2000, 1400)),        # larger than asked: w,
                svc.add(version, 2, "small", (300, 200)),        # smaller: the whole image
                svc.add(version, 0, "fixed", (1600, 1000), [(400, 250), (1000, 625)]),
                svc.add(version, 0, "bare", (500, 400))]        # level 0, no sizes listed
    make = _v3_manifest if version == 3 else _v2_manifest
    museum.json["/m.json"] = make(museum.base, services,
                                  **({} if version == 3 else {"license": "CC0-1.0"}))
    report = fetch_collection(f"iiif:{museum.base}/m.json", tmp_path / "c", **FAST)
    assert not report.failed, report.failed
    df = pd.read_csv(tmp_path / "c" / "images.csv", dtype=str, keep_default_na=False)
    whole = "max" if version == 3 else "full"
    assert [u.split("/full/")[1].split("/")[0] for u in df["image_url"]] == [
        "843,", whole, "1000,625", whole]
    assert list(df["width"]) == ["843", "300", "1000", "500"]
    assert set(df["artist"]) == {"Katsushika Hokusai" if version == 3 else
                                 "Utagawa Hiroshige\nJapanese"}
    assert not museum.log or all("info.json/" not in r["path"] for r in museum.log)


def test_iiif_collection_and_licences_by_canvas_and_attribution(museum, tmp_path):
    svc = Services(museum)
    a = svc.add(3, 2, "a", (1200, 800))
    b = svc.add(2, 1, "b", (1200, 800))
    c = svc.add(2, 1, "c", (1200, 800))
    m3 = _v3_manifest(museum.base, [a])
    del m3["rights"]
    m3["items"][0]["rights"] = "http://creativecommons.org/publicdomain/zero/1.0/"
    m2 = _v2_manifest(museum.base, [b], attribution="Public domain. Digital image "
                                                    "courtesy of an open-access museum.")
    closed = _v2_manifest(museum.base, [c], attribution="Not in the public domain; "
                                                        "courtesy of a museum.")
    museum.json["/m3.json"], museum.json["/m2.json"], museum.json["/x.json"] = m3, m2, closed
    museum.json["/coll.json"] = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{museum.base}/coll.json", "type": "Collection", "label": {"en": ["Prints"]},
        "items": [{"id": f"{museum.base}/{n}.json", "type": "Manifest"}
                  for n in ("m3", "m2", "x", "gone")]}
    report = fetch_collection(f"iiif:{museum.base}/coll.json", tmp_path / "c", **FAST)
    df = pd.read_csv(tmp_path / "c" / "images.csv", dtype=str, keep_default_na=False)
    assert list(df["licence"]) == ["http://creativecommons.org/publicdomain/zero/1.0/",
                                   "public-domain"]
    assert [i for i, _ in report.refused] == ["iiif-c"]
    assert any("gone.json" in n and "404" in n for n in report.notes)


def test_size_choice_and_label_meaning():
    v3 = {"type": "ImageService3", "profile": "level2", "width": 500}
    assert image_size_param(v3, 843) == "max"
    assert image_size_param({**v3, "width": 4000}, 843) == "843,"
    assert image_size_param({**v3, "width": 4000, "maxWidth": 600}, 843) == "max"
    assert image_size_param({"type": "ImageService3", "profile": "level2"}, 843) == "max"
    assert image_size_param({"@context": "http://iiif.io/api/image/2/context.json",
                             "profile": "http://iiif.io/api/image/2/level0.json"}, 843) == "full"
    assert label_meaning({"en": ["Artist / Maker"]}) == "artist"
    assert label_meaning({"ja": ["年代"]}) == "date"
    assert label_meaning("Medium") == ""
    assert item_licence({}, {"attribution": "not public domain"}).startswith("unknown")


# -- a run stopped by a firewall keeps its items; the rerun continues ---------------------------
def test_a_run_stopped_by_the_firewall_keeps_its_items_and_the_rerun_continues(museum,
                                                                              tmp_path):
    from simkit.fetch.http import FetchError

    museum.burst = (30, 10.0, 600.0)  # blocks for longer than the client waits
    _met_objects(museum, 60)
    museum.json[MET_SEARCH] = {"total": 60, "objectIDs": list(range(1, 61))}
    out = tmp_path / "met"
    args = dict(base_url=f"{museum.base}{MET}", min_interval=0.0, sleep=museum.sleep,
                timeout=5, progress=False, retries=1)
    with pytest.raises(FetchError, match="complete and kept"):
        fetch_collection("met-ukiyoe", out, **args)
    first = pd.read_csv(out / "images.csv", dtype=str)
    assert 0 < len(first) < 41, "what came before the block is kept"
    museum.burst, n = None, len(museum.log)
    report = fetch_collection("met-ukiyoe", out, **args)
    assert report.images == 41 and report.reused == len(first)  # 60 - 12 closed - 7
    asked = {r["path"] for r in museum.log[n:]}
    assert not any(f"{MET}/objects/{i}" in asked for i in range(1, 4)), "recorded answers"


# -- simkit fetch --check -------------------------------------------------------------------------
def test_live_check_offline_is_one_line_exit_2(monkeypatch, capsys):
    from simkit.cli import main

    monkeypatch.setattr("simkit.cli.app.version", lambda: "test")
    monkeypatch.setitem(__import__("simkit.fetch.check", fromlist=["x"]).CHECK_TARGETS,
                        "aic", "http://127.0.0.1:1/api/v1")
    monkeypatch.setitem(__import__("simkit.fetch.check", fromlist=["x"]).CHECK_TARGETS,
                        "met", "http://127.0.0.1:1/public/collection/v1")
    assert main(["fetch", "--check"]) == 2
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: fetch --check needs the internet")
    assert "127.0.0.1:1" in lines[0] and not out
    assert main(["fetch", "met-ukiyoe"]) == 2  # NAME without --out: one line too
    assert "needs NAME and --out" in capsys.readouterr().err


def test_aic_manifest_licence_from_the_api(museum, tmp_path):
    """AIC's 2.1 manifests carry only an attribution: the artwork record says the licence."""
    svc = Services(museum)
    m2 = _v2_manifest(museum.base, [svc.add(2, 2, "aic1", (3000, 2000))],
                      attribution="Digital image courtesy of the Art Institute of Chicago.")
    museum.json["/api/v1/artworks/24645/manifest.json"] = m2
    museum.json["/api/v1/artworks/24645?fields=id,is_public_domain"] = {
        "data": {"id": 24645, "is_public_domain": True}, "info": {}, "config": {}}
    report = fetch_collection(f"iiif:{museum.base}/api/v1/artworks/24645/manifest.json",
                              tmp_path / "c", **FAST)
    assert report.images == 1 and not report.refused
    df = pd.read_csv(tmp_path / "c" / "images.csv", dtype=str)
    assert df["licence"][0] == "public-domain" and df["artist"][0].startswith("Utagawa")


def test_an_api_403_in_json_is_final_and_a_429_date_is_honoured(museum):
    from email.utils import formatdate

    from simkit.fetch.http import ItemGone
    from test_datasets import aic_search

    museum.routes["/api/v1/artworks/search"] = aic_search(museum, [])
    lines: list[str] = []
    http = Http(min_interval=0, sleep=museum.sleep, notify=lines.append)
    with pytest.raises(ItemGone, match="Invalid number of results"):
        http.get_json(f"{museum.base}/api/v1/artworks/search?limit=100&page=11")
    assert http.requests == 1 and not lines, "the API's own refusal is not retried"
    import time as _time
    answers = iter([(429, b"slow down", "text/plain",
                     {"Retry-After": formatdate(_time.time() + 120, usegmt=True)}),
                    (200, {"ok": True}, "application/json", {}),
                    (503, b"busy", "text/plain", {"Retry-After": "5000"}),  # capped: 300 s
                    (200, {"ok": 2}, "application/json", {})])
    museum.routes["/busy"] = lambda q: next(answers)
    assert http.get_json(f"{museum.base}/busy") == {"ok": True}
    assert len(lines) == 1 and "HTTP 429" in lines[0]
    assert re.search(r"waiting 1[12]\d s", lines[0]), lines
    assert http.get_json(f"{museum.base}/busy") == {"ok": 2}
    assert "HTTP 503" in lines[1] and "waiting 300 s" in lines[1]


def test_readers_sit_below_the_list_of_sources():
    # no import circle: the readers take their records from fetch.records, and only
    # fetch.sources (which lists the sources) imports the readers; old names still import
    import ast
    from pathlib import Path

    import simkit.fetch.records as records
    import simkit.fetch.sources as sources
    folder = Path(records.__file__).parent
    for name in ("aic", "iiif", "met", "records"):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {"simkit.fetch.sources", "simkit.fetch"} & imported, name
    for public in sources.__all__:
        assert hasattr(sources, public), public
    assert sources.Item is records.Item and sources.infer_genre is records.infer_genre
