"""simkit fetch against a local HTTP server that answers like the museums' APIs.

The server (127.0.0.1, a random port, a thread) serves JSON shaped like the services'
documented answers (Art Institute of Chicago search + IIIF image server, The Met search +
objects, IIIF manifests) and JPEGs made here with PIL. It counts requests and can misbehave
on purpose: drop the connection after N images, send half an image, send a corrupt one,
answer 503 / 429. ``routes`` answer computed responses (the AIC search with its rules, see
tests/test_fetch_services.py); ``burst`` makes it a firewall that answers 403 after too many
quick requests. Time on the server is real time plus ``skipped``: the tests' ``sleep`` adds
to it instead of waiting.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from PIL import Image

from simkit.fetch.collection import LicenceRefused, fetch_collection
from simkit.fetch.http import FetchError
from simkit.fetch.sources import infer_genre, is_open_licence
from simkit.study.collection import read_images
from simkit.study.model import StudyError

FAST = dict(min_interval=0.0, backoff=0.01, retries=2, timeout=5, progress=False)


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Museum:
    """Routes, image bytes, a request log and switches for misbehaviour."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        self.json: dict[str, dict] = {}
        self.log: list[dict] = []
        self.drop_images_after: int | None = None   # serve N images, then drop connections
        self.half_once: set[str] = set()            # send half the bytes, then hang up
        self.corrupt_once: set[str] = set()         # send garbage of the right length
        self.fail_once: dict[str, int] = {}         # path -> HTTP status to answer once
        self.redirects: dict[str, str] = {}         # path -> Location of a 302 answer
        self.images_served = 0
        self.lock = threading.Lock()
        # path -> fn(query) -> (status, body: dict | bytes, content type, headers)
        self.routes: dict = {}
        # path prefix -> fn(path, query) -> the same, for servers with ids in the path (IIIF)
        self.prefixes: dict = {}
        # (requests, within seconds, blocked seconds): a firewall like the Met's Incapsula
        self.burst: tuple[int, float, float] | None = None
        self.skipped = 0.0          # seconds the tests' sleep pretended to wait
        self.recent: list[float] = []
        self.blocked_until = 0.0
        self.refused_403 = 0

    def now(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        """The client's sleep in tests: server time moves on, the test does not wait."""
        with self.lock:
            self.skipped += max(0.0, seconds)

    def firewall(self) -> bool:
        """True when this request is refused by the burst rule (call with the lock held)."""
        if self.burst is None:
            return False
        n, within, block = self.burst
        now = self.now()
        if now < self.blocked_until:
            return True
        self.recent = [t for t in self.recent if t > now - within] + [now]
        if len(self.recent) > n:
            self.blocked_until, self.recent = now + block, []
            return True
        return False

    def image_requests(self) -> list[dict]:
        return [r for r in self.log if r["kind"] == "image"]


def _handler(museum: Museum):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlparse(self.path)
            key = url.path + ("?" + url.query if url.query else "")
            is_image = url.path in museum.images
            with museum.lock:
                museum.log.append({"path": url.path, "query": parse_qs(url.query),
                                   "range": self.headers.get("Range"),
                                   "ua": self.headers.get("User-Agent"),
                                   "aic_ua": self.headers.get("AIC-User-Agent"),
                                   "kind": "image" if is_image else "api"})
                status = museum.fail_once.pop(url.path, None)
                walled = museum.firewall()
                if walled:
                    museum.refused_403 += 1
            if walled:  # what Incapsula answers: an HTML page with a script, and X-Iinfo
                return self._send(403, b"<html><head><META NAME=\"robots\" CONTENT=\""
                                  b"noindex,nofollow\"><script src=\"/_Incapsula_Resource?"
                                  b"SWJIYLWA=5074a744\"></script></head></html>", "text/html",
                                  {"X-Iinfo": "2-38386998-0 0NNN RT(1756724003843 133)"})
            route = museum.routes.get(url.path)
            for prefix, fn in museum.prefixes.items():
                if url.path.startswith(prefix):
                    route = (lambda q, fn=fn: fn(url.path, q))
            if route is not None:
                code, body, ctype, extra = route(parse_qs(url.query))
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                return self._send(code, body, ctype, extra)
            if status:
                return self._send(status, b"busy", "text/plain", {"Retry-After": "0"})
            if url.path in museum.redirects:
                return self._send(302, b"", "text/plain",
                                  {"Location": museum.redirects[url.path]})
            if is_image:
                with museum.lock:
                    if (museum.drop_images_after is not None
                            and museum.images_served >= museum.drop_images_after):
                        self.close_connection = True
                        self.connection.shutdown(2)  # the server is gone mid-run
                        return
                    museum.images_served += 1
                body = museum.images[url.path]
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                if url.path in museum.half_once and not rng:
                    museum.half_once.discard(url.path)
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if url.path in museum.corrupt_once:
                    museum.corrupt_once.discard(url.path)
                    return self._send(200, b"\x00garbage" * (len(body) // 8), "image/jpeg")
                if start:
                    return self._send(206, body[start:], "image/jpeg", {
                        "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
                return self._send(200, body, "image/jpeg")
            for k in (key, url.path):
                if k in museum.json:
                    return self._send(200, json.dumps(museum.json[k]).encode(),
                                      "application/json")
            self._send(404, b'{"status": 404, "error": "Not found"}', "application/json")
    return H


@pytest.fixture
def museum():
    m = Museum()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(m))
    m.base = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True)
    t.start()
    yield m
    server.shutdown()
    server.server_close()


# -- the Art Institute of Chicago, as its API answers ----------------------------------------
AIC_FIELDS = ("id,title,artist_title,artist_display,date_display,date_start,image_id,"
              "is_public_domain,subject_titles,term_titles,classification_titles,"
              "style_titles,department_title,thumbnail")

AIC_ARTWORKS = [
    # id, title, artist, date, start, image_id, pd, subjects, size
    (24645, "The Actor Ichikawa Danjuro V", "Katsukawa Shunsho", "1777", 1777,
     "a1b2c3d4-0001-4e5f-9a0b-c1d2e3f4a5b6", True, ["actors", "kabuki"], (40, 60)),
    (25001, "Beauty Looking Back", "Kitagawa Utamaro", "c. 1795", 1795,
     "a1b2c3d4-0002-4e5f-9a0b-c1d2e3f4a5b6", True, ["women", "beauty"], (42, 64)),
    (25002, "Mishima Pass in Kai Province", "Katsushika Hokusai", "1830/32", 1830,
     "a1b2c3d4-0003-4e5f-9a0b-c1d2e3f4a5b6", True, ["landscapes", "Mount Fuji"], (64, 44)),
    (25003, "A Modern Homage to Hokusai", "A Living Artist", "1998", 1998,
     "a1b2c3d4-0004-4e5f-9a0b-c1d2e3f4a5b6", False, ["landscapes"], (50, 50)),
    (25004, "Untitled (no image)", "Unknown", "1800", 1800, None, True, [], (40, 40)),
    (25005, "Evening Snow at Kanbara", "Utagawa Hiroshige", "1833/34", 1833,
     "a1b2c3d4-0005-4e5f-9a0b-c1d2e3f4a5b6", True, ["station", "snow"], (66, 45)),
    (25006, "Chrysanthemums and Bee", "Katsushika Hokusai", "c. 1833", 1833,
     "a1b2c3d4-0006-4e5f-9a0b-c1d2e3f4a5b6", True, ["flowers"], (44, 62)),
]


def _aic_record(a) -> dict:
    aid, title, artist, date, start, image_id, pd_, subjects, size = a
    return {
        "_score": 120.5, "id": aid, "title": title, "artist_title": artist,
        "artist_display": f"{artist}\nJapanese, 1700-1800", "date_display": date,
        "date_start": start, "image_id": image_id, "is_public_domain": pd_,
        "subject_titles": subjects, "term_titles": ["woodblock print", "ukiyo-e"],
        "classification_titles": ["woodblock print", "print"],
        "style_titles": ["Edo Period (1615-1868)"], "department_title": "Arts of Asia",
        "thumbnail": {"lqip": "data:image/gif;base64,R0lGODlhBQAIAPQAA", "width": size[0] * 10,
                      "height": size[1] * 10, "alt_text": "A work made of color woodblock print."},
    }


def _aic_matches(record: dict, query: dict) -> bool:
    """The ``query[bool][filter][i][KIND][FIELD]=VALUE`` clauses the AIC API runs."""
    for key, (value, *_) in query.items():
        found = re.fullmatch(r"query\[bool\]\[filter\]\[\d+\]\[(\w+)\]\[(\w+)\]", key)
        if not found:
            continue
        kind, name = found.groups()
        have = record.get(name)
        if kind == "term" and str(have).lower() != value.lower():
            return False
        texts = have if isinstance(have, list) else [str(have or "")]
        if kind == "match_phrase" and not any(value.lower() in t.lower() for t in texts):
            return False
    return True


def aic_search(museum: Museum, records: list[dict]):
    """``GET /api/v1/artworks/search`` with the API's rules: ``limit`` at most 100, ``from +
    size`` at most 1,000 for anonymous callers (else 403), the filters run on the server,
    ``pagination`` as the API gives it."""
    def answer(query: dict):
        page, limit = int(query.get("page", ["1"])[0]), int(query.get("limit", ["10"])[0])
        if limit > 100 or page * limit > 1000:
            return 403, {"status": 403, "error": "Invalid number of results",
                         "detail": "You have to be authenticated to access more than 1000 "
                                   "results."}, "application/json", {}
        rows = [r for r in records if _aic_matches(r, query)]
        with museum.lock:
            museum.aic_pages = getattr(museum, "aic_pages", 0) + 1
        return 200, {
            "preference": None,
            "pagination": {"total": len(rows), "limit": limit, "offset": (page - 1) * limit,
                           "total_pages": max(1, -(-len(rows) // limit)),
                           "current_page": page},
            "data": rows[(page - 1) * limit: page * limit],
            "info": {"license_text": "The `description` field in this response is licensed "
                                     "under a Creative Commons Attribution 4.0 Generic "
                                     "License (CC-By) ...", "version": "1.13"},
            "config": {"iiif_url": f"{museum.base}/iiif/2",
                       "website_url": "http://www.artic.edu"},
        }, "application/json", {}
    return answer


def serve_aic(museum: Museum, artworks=AIC_ARTWORKS, width: int = 843):
    """AIC search answers (pagination, data, info, config) and the IIIF images they name."""
    museum.routes["/api/v1/artworks/search"] = aic_search(museum,
                                                          [_aic_record(a) for a in artworks])
    expected = {}
    for k, a in enumerate(artworks):
        if a[5]:
            body = _jpeg((30 * k % 255, 90, 200 - 20 * k), a[8])
            museum.images[f"/iiif/2/{a[5]}/full/{width},/0/default.jpg"] = body
            expected[f"aic-{a[0]}"] = body
    return expected


def test_aic_fetch_metadata_and_files(museum, tmp_path):
    expected = serve_aic(museum)
    out = tmp_path / "prints"
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    df = pd.read_csv(out / "images.csv", dtype=str, keep_default_na=False)
    # the non-public-domain one is filtered out by the server, the one without an image
    # is left out with the reason
    assert list(df["image_id"]) == ["aic-24645", "aic-25001", "aic-25002", "aic-25005",
                                    "aic-25006"]
    assert report.downloaded == 5 and report.reused == 0
    assert not report.refused and [r[0] for r in report.left_out] == ["aic-25004"]
    refused = pd.read_csv(out / "refused.csv", dtype=str)
    assert list(refused["source_id"]) == ["25004"]
    assert "no image" in refused["reason"][0]
    search = [r for r in museum.log if r["kind"] == "api"][0]["query"]
    assert search["query[bool][filter][2][term][is_public_domain]"] == ["true"]
    assert search["query[bool][filter][1][match_phrase][classification_titles]"] == [
        "woodblock print"]
    row = df.set_index("image_id").loc["aic-25002"]
    assert row["title"] == "Mishima Pass in Kai Province"
    assert row["artist"] == "Katsushika Hokusai"
    assert row["date"] == "1830/32" and row["year"] == "1830"
    assert (row["width"], row["height"]) == ("64", "44")
    assert row["licence"] == "public-domain"
    assert row["source_url"] == "http://www.artic.edu/artworks/25002"
    assert row["image_url"] == f"{museum.base}/iiif/2/a1b2c3d4-0003-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"
    assert row["genre"] == "Meisho-e"
    assert df.set_index("image_id")["genre"].to_dict() == {
        "aic-24645": "Yakusha-e", "aic-25001": "Bijin-ga", "aic-25002": "Meisho-e",
        "aic-25005": "Meisho-e", "aic-25006": "Kachō-e"}
    for r in df.itertuples():
        data = (out / r.file).read_bytes()
        assert data == expected[r.image_id]
        assert r.sha256 == hashlib.sha256(data).hexdigest()
        assert int(r.bytes) == len(data)
    # polite: a User-Agent naming simkit, and the AIC's own header
    assert all("simkit" in r["ua"] for r in museum.log)
    assert all("simkit" in (r["aic_ua"] or "") for r in museum.log if r["kind"] == "api")
    assert museum.log[0]["query"]["fields"] == [AIC_FIELDS]
    # the collection loads like a study's images.csv
    col = read_images(out)
    assert len(col) == 5 and col["aspect"].notna().all()
    assert (out / "SOURCE.md").read_text().count("without an") >= 1


def test_second_run_sends_no_request(museum, tmp_path):
    serve_aic(museum)
    out = tmp_path / "prints"
    fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    before = (out / "images.csv").read_bytes()
    n = len(museum.log)
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    assert len(museum.log) == n, "a second run must not ask the server anything"
    assert report.requests == 0 and report.downloaded == 0 and report.reused == 5
    assert (out / "images.csv").read_bytes() == before
    # --refresh asks for the metadata again, but still downloads no image
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1",
                              refresh=True, **FAST)
    assert report.downloaded == 0
    assert [r["kind"] for r in museum.log[n:]] == ["api"]  # one search page of 100


def test_interrupted_run_resumes(museum, tmp_path):
    serve_aic(museum)
    out = tmp_path / "prints"
    museum.drop_images_after = 2  # the server goes away after two images
    with pytest.raises(FetchError, match="(?i)run the same command again"):
        fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    df = pd.read_csv(out / "images.csv", dtype=str)
    assert list(df["image_id"]) == ["aic-24645", "aic-25001"]  # progress was kept
    museum.drop_images_after = None
    n_img = len(museum.image_requests())
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    new = museum.image_requests()[n_img:]
    assert len(new) == 3 and report.downloaded == 3 and report.reused == 2
    assert {r["path"].split("/")[3] for r in new} == {"a1b2c3d4-0003-4e5f-9a0b-c1d2e3f4a5b6", "a1b2c3d4-0005-4e5f-9a0b-c1d2e3f4a5b6",
                                                       "a1b2c3d4-0006-4e5f-9a0b-c1d2e3f4a5b6"}
    assert len(pd.read_csv(out / "images.csv")) == 5


def test_partial_download_resumes_with_range(museum, tmp_path):
    expected = serve_aic(museum)
    path = "/iiif/2/a1b2c3d4-0002-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"
    museum.half_once.add(path)
    out = tmp_path / "prints"
    fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    asked = [r for r in museum.image_requests() if r["path"] == path]
    half = len(expected["aic-25001"]) // 2
    assert [r["range"] for r in asked] == [None, f"bytes={half}-"]
    assert (out / "images" / "aic-25001.jpg").read_bytes() == expected["aic-25001"]
    assert not list((out / "images").glob("*.part"))


def test_corrupt_download_is_detected_and_fetched_again(museum, tmp_path):
    expected = serve_aic(museum)
    path = "/iiif/2/a1b2c3d4-0005-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"
    museum.corrupt_once.add(path)
    museum.fail_once["/iiif/2/a1b2c3d4-0006-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"] = 503
    out = tmp_path / "prints"
    fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    assert len([r for r in museum.image_requests() if r["path"] == path]) == 2
    assert (out / "images" / "aic-25005.jpg").read_bytes() == expected["aic-25005"]
    assert (out / "images" / "aic-25006.jpg").read_bytes() == expected["aic-25006"]

    # a file damaged on disk later no longer matches its sha256: only it is fetched again
    (out / "images" / "aic-24645.jpg").write_bytes(b"oops")
    n = len(museum.image_requests())
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    assert report.refetched_corrupt == 1 and report.downloaded == 1
    assert [r["path"] for r in museum.image_requests()[n:]] == [
        "/iiif/2/a1b2c3d4-0001-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"]
    assert (out / "images" / "aic-24645.jpg").read_bytes() == expected["aic-24645"]


def test_non_public_domain_filtered_by_the_server_unless_allowed(museum, tmp_path):
    only_closed = [a for a in AIC_ARTWORKS if a[6] is False]
    serve_aic(museum, only_closed)
    out = tmp_path / "closed"
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    assert report.images == 0 and not museum.image_requests(), "a closed image is not fetched"
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1",
                              allow_licences=["any"], **FAST)
    assert report.downloaded == 1 and not report.refused
    asked = [r["query"] for r in museum.log if r["kind"] == "api"][-1]
    assert not any("is_public_domain" in k for k in asked), "no filter when opted in"
    df = pd.read_csv(out / "images.csv", dtype=str)
    assert df["licence"][0].startswith("not public domain")


def test_gone_item_is_reported_others_fetched(museum, tmp_path):
    serve_aic(museum)
    del museum.images["/iiif/2/a1b2c3d4-0003-4e5f-9a0b-c1d2e3f4a5b6/full/843,/0/default.jpg"]  # 404 now
    out = tmp_path / "prints"
    report = fetch_collection("aic-ukiyoe", out, base_url=f"{museum.base}/api/v1", **FAST)
    assert [i for i, _ in report.failed] == ["aic-25002"] and report.images == 4
    assert "HTTP 404" in report.summary()


# -- The Met ---------------------------------------------------------------------------------
def _met_object(oid: int, title: str, pd_: bool, image: str, tags: list[str]) -> dict:
    return {
        "objectID": oid, "isHighlight": False, "accessionNumber": f"JP{oid}",
        "accessionYear": "1918", "isPublicDomain": pd_, "primaryImage": image.replace(
            "web-large", "original") if image else "", "primaryImageSmall": image,
        "additionalImages": [], "constituents": [{"constituentID": 1, "role": "Artist",
                                                  "name": "Utagawa Kunisada"}],
        "department": "Asian Art", "objectName": "Print", "title": title, "culture": "Japan",
        "period": "Edo period (1615–1868)", "artistRole": "Artist",
        "artistDisplayName": "Utagawa Kunisada", "artistDisplayBio": "Japanese, 1786–1865",
        "objectDate": "ca. 1830", "objectBeginDate": 1825, "objectEndDate": 1835,
        "medium": "Polychrome woodblock print; ink and color on paper",
        "classification": "Prints", "objectURL":
            f"https://www.metmuseum.org/art/collection/search/{oid}",
        "tags": [{"term": t, "AAT_URL": "http://vocab.getty.edu/page/aat/300025928",
                  "Wikidata_URL": "https://www.wikidata.org/wiki/Q33999"} for t in tags],
    }


def test_met_fetch(museum, tmp_path):
    base = f"{museum.base}/public/collection/v1"
    museum.json["/public/collection/v1/search?q=ukiyo-e&hasImages=true&departmentId=6"] = {
        "total": 4, "objectIDs": [36491, 36492, 36493, 36494]}
    objs = [
        _met_object(36491, "Actor as a Samurai", True,
                    f"{museum.base}/CRDImages/as/web-large/DP1.jpg", ["Actors"]),
        _met_object(36492, "Copyrighted Print", False,
                    f"{museum.base}/CRDImages/as/web-large/DP2.jpg", ["Landscapes"]),
        _met_object(36493, "No Image", True, "", ["Women"]),
        _met_object(36494, "Courtesan of the Ogiya", True,
                    f"{museum.base}/CRDImages/as/web-large/DP4.jpg", ["Women", "Courtesans"]),
    ]
    for o in objs:
        museum.json[f"/public/collection/v1/objects/{o['objectID']}"] = o
        if o["primaryImageSmall"]:
            museum.images[urlparse(o["primaryImageSmall"]).path] = _jpeg((200, 10, 10), (40, 56))
    out = tmp_path / "met"
    report = fetch_collection("met-ukiyoe", out, base_url=base, **FAST)
    df = pd.read_csv(out / "images.csv", dtype=str, keep_default_na=False).set_index("image_id")
    assert list(df.index) == ["met-36491", "met-36494"]
    assert [i for i, _ in report.refused] == ["met-36492"]
    assert df.loc["met-36491", "licence"] == "CC0-1.0"
    assert df.loc["met-36491", "genre"] == "Yakusha-e"
    assert df.loc["met-36494", "genre"] == "Bijin-ga"
    assert df.loc["met-36494", "source_url"].endswith("/36494")
    assert df.loc["met-36494", "year"] == "1825"
    assert df.loc["met-36494", "date"] == "ca. 1830"


# -- any IIIF manifest -------------------------------------------------------------------------
def test_iiif_manifest_v3(museum, tmp_path):
    svc = f"{museum.base}/iiif/img"
    manifest = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{museum.base}/manifest.json", "type": "Manifest",
        "label": {"en": ["Fifty-three Stations of the Tokaido"]},
        "metadata": [{"label": {"en": ["Artist"]}, "value": {"en": ["Utagawa Hiroshige"]}},
                     {"label": {"en": ["Date"]}, "value": {"none": ["1833-1834"]}}],
        "rights": "http://creativecommons.org/publicdomain/zero/1.0/",
        "items": [{"id": f"{museum.base}/canvas/{k}", "type": "Canvas",
                   "label": {"en": [f"Station {k}"]}, "height": 44, "width": 64,
                   "items": [{"type": "AnnotationPage", "items": [{
                       "type": "Annotation", "motivation": "painting",
                       "body": {"id": f"{svc}/st{k}/full/max/0/default.jpg", "type": "Image",
                                "service": [{"id": f"{svc}/st{k}", "type": "ImageService3",
                                             "profile": "level1"}]}}]}]}
                  for k in (1, 2)],
    }
    museum.json["/manifest.json"] = manifest
    for k in (1, 2):  # no info.json: the canvas says 64 px, narrower than 843, so "max"
        museum.images[f"/iiif/img/st{k}/full/max/0/default.jpg"] = _jpeg((10, 10 * k, 90),
                                                                          (64, 44))
    out = tmp_path / "tokaido"
    fetch_collection(f"iiif:{museum.base}/manifest.json", out, **FAST)
    df = pd.read_csv(out / "images.csv", dtype=str, keep_default_na=False)
    assert list(df["title"]) == ["Station 1", "Station 2"]
    assert set(df["artist"]) == {"Utagawa Hiroshige"} and set(df["year"]) == {"1833"}
    assert set(df["genre"]) == {"Meisho-e"}  # "station"


def test_helpers_and_errors(tmp_path):
    assert infer_genre(["Actors"], "x") == "Yakusha-e"
    assert infer_genre([], "Still life") == ""
    assert is_open_licence("CC0-1.0") and is_open_licence("public-domain")
    assert is_open_licence("https://creativecommons.org/publicdomain/mark/1.0/")
    assert not is_open_licence("https://creativecommons.org/licenses/by-nc/4.0/")
    assert not is_open_licence("")
    with pytest.raises(FetchError, match="unknown collection"):
        fetch_collection("louvre", tmp_path / "x", **FAST)
    with pytest.raises(StudyError, match="no images.csv"):
        read_images(tmp_path)
