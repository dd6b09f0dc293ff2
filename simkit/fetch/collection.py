"""Fetch a public-domain ukiyo-e collection from an open-access museum, once, for offline use.

>>> fetch_collection("aic-ukiyoe", "prints", limit=400)          # doctest: +SKIP
>>> # later, offline: simkit study new prints --out my-study

A *collection* is a folder with ``images.csv`` and the image files::

    COLLECTION/
      images.csv      image_id, file, genre, title, artist, date, year, width, height,
                      source, source_id, source_url, image_url, licence, sha256, bytes, subjects
      images/         one JPEG per print (file is relative to COLLECTION/)
      refused.csv     items left out, with the reason: a licence that is not public domain /
                      CC0, or no image to fetch (a record without one)
      failed.csv      items that could not be fetched this run, with the reason
      SOURCE.md       where the images come from, when, under which licence
      .simkit-fetch/  the recorded API answers (a second run asks the museum nothing)

``images.csv`` has the columns of a study's images.csv (``image_id, file, genre``), so
``simkit study new COLLECTION`` and :class:`simkit.widgets.group_builder.GroupBuilder` read it.

Sources (``NAME``; what each selects and why: README, "A workshop"):

- ``aic-ukiyoe`` — the Art Institute of Chicago API (``api.artic.edu``): artworks search
  filtered on the server (public domain, Arts of Asia, woodblock print; at most 1,000
  results a search), images from its IIIF Image API server
  (``{iiif_url}/{image_id}/full/843,/0/default.jpg``, the size the AIC recommends).
  :mod:`simkit.fetch.aic`.
- ``met-ukiyoe`` — The Met Collection API (``collectionapi.metmuseum.org``): search (ids
  only; v1.1 paged when the server has it), then one object record per id;
  ``isPublicDomain`` marks its CC0 open-access images. :mod:`simkit.fetch.met`.
- ``iiif:URL`` — any IIIF Presentation manifest (2.1 or 3.0) or collection of manifests:
  one image per canvas through the canvas' IIIF Image API service, at a size its
  ``info.json`` allows. :mod:`simkit.fetch.iiif`.

Downloads are

- **cached**: a file whose sha256 matches images.csv is never fetched again, and the API
  answers are kept in ``.simkit-fetch/``, so a second run makes no request at all
  (``refresh=True`` asks the museum again);
- **checksummed**: sha256 and size of every file go to images.csv; a file that no longer
  matches (corrupt, truncated, edited) is fetched again;
- **resumable**: bytes arrive in ``NAME.part`` and continue with an HTTP ``Range`` request
  after an interruption; images.csv is saved as the run goes;
- **verified**: a download must have the announced length and decode completely as an
  image within simkit's limits (:func:`simkit.features.images.verify_image`: at most
  100 million pixels, both sides at least 32 px) before it is kept, or it is fetched again;
- **safe**: only http(s) addresses are read (also after redirects), file names made from
  museum ids stay inside ``images/``, and one bad item (refused address, too large, not an
  image, 4xx) is listed in ``failed.csv`` with its reason while the others go on;
- **polite**: one request at a time, at most one per ``min_interval`` seconds to each host
  (1 s: AIC asks for at most 60 a minute, and the Met's firewall blocks quicker callers), a
  User-Agent that names simkit, retries with capped exponential back-off on 403 (a
  firewall: 30-45 s first), 429 and 5xx (honouring ``Retry-After``, seconds or a date)
  and on dropped connections;
- **interleaved**: each item is downloaded as soon as it is listed, so a run stopped by a
  firewall keeps everything before it, and the rerun continues from the recorded answers.

A licence that is not public domain / CC0 is refused (listed in refused.csv) unless the
user opts in with ``allow_licences`` (``--allow-licence LICENCE`` or ``any``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from simkit.features.cache import content_hash
from simkit.features.images import verify_image
from simkit.fetch.http import USER_AGENT, ApiCache, FetchError, Http, ItemGone, utc_now
from simkit.fetch.sources import (Item, Source, licence_allowed, resolve_source,
                                  source_items)
from simkit.fileio import write_csv, write_text
from simkit.paths import PathEscapeError, inside

__all__ = ["COLUMNS", "MAX_FAILURES_IN_A_ROW", "LicenceRefused", "FetchReport",
           "fetch_collection", "image_size", "is_collection_table", "check_collection_folder"]

#: Columns of a collection's images.csv, in order.
COLUMNS = ["image_id", "file", "genre", "title", "artist", "date", "year", "width", "height",
           "source", "source_id", "source_url", "image_url", "licence", "sha256", "bytes",
           "subjects"]


class LicenceRefused(FetchError):
    """Every item was refused for its licence."""


#: After this many items in a row fail on the connection, the server is taken to be gone
#: and the fetch stops (a rerun resumes); fewer are listed as failed and skipped.
MAX_FAILURES_IN_A_ROW = 3


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of the image at ``path``."""
    from PIL import Image
    with Image.open(path) as im:
        return im.size


@dataclass
class FetchReport:
    """What a fetch did: counts, where, what was refused, left out or failed, and notes."""

    out: Path
    images: int = 0
    downloaded: int = 0
    reused: int = 0
    refetched_corrupt: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    waited: float = 0.0

    def summary(self) -> str:
        lines = [f"collection: {self.out}", f"images: {self.images} "
                 f"({self.downloaded} downloaded, {self.reused} already here"
                 + (f", {self.refetched_corrupt} corrupt ones fetched again"
                    if self.refetched_corrupt else "") + ")",
                 f"requests sent: {self.requests}"
                 + (f" (waited {self.waited:.0f} s for busy servers)" if self.waited >= 1
                    else "")]
        if self.refused:
            lines.append(f"refused (licence not public domain / CC0): {len(self.refused)} — "
                         f"see refused.csv; opt in with --allow-licence LICENCE")
        if self.left_out:
            lines.append(f"left out (nothing to fetch): {len(self.left_out)} — the reason "
                         f"of each is in refused.csv")
        if self.failed:
            lines.append(f"failed: {len(self.failed)} — see failed.csv")
            lines += [f"  {i}: {why}" for i, why in self.failed[:5]]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def is_collection_table(path: Path) -> bool:
    """Whether ``path`` is the images.csv of a collection made by :func:`fetch_collection`:
    its header is :data:`COLUMNS` and ``SOURCE.md`` lies beside it."""
    try:
        with open(path, "rb") as fh:
            header = fh.readline(4096).lstrip(b"\xef\xbb\xbf").strip()
    except OSError:
        return False
    return (header.decode("utf-8", "replace") == ",".join(COLUMNS)
            and (path.parent / "SOURCE.md").is_file())


def check_collection_folder(out: Path) -> None:
    """Refuse ``out`` when it holds an images.csv that no fetch made (a study's, say): the
    fetch would replace it. Raises :class:`~simkit.errors.UsageError`."""
    from simkit.errors import UsageError

    table = out / "images.csv"
    if table.exists() and not (table.is_file() and is_collection_table(table)):
        raise UsageError(f"{table} exists and is not the images.csv of a collection made by "
                         f"simkit fetch; fetching there would replace it: give --out a new "
                         f"folder (or an earlier fetch's)")


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
                     http: Http | None = None,
                     sleep: Callable[[float], None] | None = None,
                     notify: Callable[[str], None] | None = None) -> FetchReport:
    """Fetch (or complete, or check) the collection ``name`` into the folder ``out``.

    ``name``: a key of :data:`SOURCES` (``aic-ukiyoe``, ``met-ukiyoe``) or ``iiif:URL`` of a
    IIIF manifest or collection. ``limit``: at most this many prints accepted (items refused
    for their licence or without an image do not count). ``query`` / ``base_url`` /
    ``iiif_url`` override the source's (tests point ``base_url`` at a local server).
    ``width``: pixel width asked of IIIF servers. ``allow_licences``: licences (substrings,
    or ``"any"``) accepted besides public domain / CC0. ``min_interval``: seconds between
    requests to one host (default: the source's, 1 s). ``sleep``: the waiting function
    (tests pass one that does not wait). ``notify``: called with one line whenever a
    server makes us wait (the CLI prints it).

    The listing and the downloads are interleaved: each accepted item is downloaded as soon
    as it is listed, so a run stopped by a firewall keeps everything before it. Safe to run
    again: finished files are checked against their sha256 and kept, partial ones resumed,
    corrupt ones fetched again, and recorded API answers are not asked again. Raises
    :class:`FetchError` when the server stays unreachable (run again to resume) and
    :class:`LicenceRefused` when nothing could be fetched because of licences, and
    :class:`~simkit.errors.UsageError`, before any request, when ``out`` holds an
    images.csv that no fetch made (a study's: it would be replaced). A run that fetches
    nothing writes no images.csv (an earlier collection's stays as it was).
    """
    out = Path(out)
    check_collection_folder(out)  # before any request or file: a study's images.csv stays
    src = resolve_source(name, query=query, base_url=base_url, min_interval=min_interval)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if http is None:
        http = _client(src, user_agent, retries=retries, backoff=backoff, timeout=timeout,
                       sleep=sleep, notify=notify)
    cache = ApiCache(out / ".simkit-fetch", http, refresh)
    report = FetchReport(out)
    allow = [a for a in allow_licences if a]
    items = source_items(src, cache, width=width, iiif_url=iiif_url, full_size=full_size,
                         public_domain_only=not allow, notes=report.notes)
    run = _Run(out, _read_existing(out), http, report, allow)
    try:
        run.consume(items, limit, name, progress)
    finally:
        run.save()
        _write_refused(out, run.refused)
        _write_failed(out, report, run.urls)
        report.images = len(run.rows)
        report.requests = http.requests
        report.waited = http.waited
        if run.rows:  # a run that fetched nothing leaves the earlier note (or none)
            _write_source_note(out, name, src, report, len(run.accepted))
    if not run.accepted and report.refused:
        raise LicenceRefused(f"all {len(report.refused)} items were refused for their licence "
                             f"(see {out / 'refused.csv'}); opt in with --allow-licence "
                             f"LICENCE if you have the right to use them")
    return report


def _client(src: Source, user_agent: str | None, *, retries: int, backoff: float,
            timeout: float, sleep: Callable[[float], None] | None,
            notify: Callable[[str], None] | None) -> Http:
    """The HTTP client for ``src``: its pace, and a User-Agent naming the contact."""
    from simkit.config import contact as configured_contact

    ua = user_agent or USER_AGENT
    contact = configured_contact()
    if contact and not user_agent:
        ua += f" contact: {contact}"
    return Http(user_agent=ua, min_interval=src.min_interval, retries=retries,
                backoff=backoff, timeout=timeout, throttle_wait=src.throttle_wait,
                notify=notify, **({"sleep": sleep} if sleep else {}),
                # AIC asks API callers to identify themselves in this header
                extra_headers={"AIC-User-Agent": ua} if src.kind == "aic" else None)


class _Run:
    """One fetch: items taken as they are listed, each accepted one downloaded at once."""

    def __init__(self, out: Path, existing: dict[str, dict], http: Http,
                 report: FetchReport, allow: list[str]) -> None:
        self.out, self.existing, self.http = out, existing, http
        self.report, self.allow = report, allow
        self.accepted: list[Item] = []
        self.rows: dict[str, dict] = {}
        self.refused: list[dict] = []
        self.urls: dict[str, str] = {}
        self.seen: set[str] = set()
        self.in_a_row = 0

    def save(self) -> None:
        """images.csv of the images fetched so far; none is written while there are none
        (an offline run must not replace an earlier collection's table with an empty one)."""
        if not self.rows:
            return
        df = pd.DataFrame([self.rows[i.image_id] for i in self.accepted
                           if i.image_id in self.rows], columns=COLUMNS)
        write_csv(df, self.out / "images.csv")

    def consume(self, items: Iterable[Item], limit: int, name: str, progress: bool) -> None:
        """Take items until ``limit`` are accepted; a listing that fails keeps what is done."""
        from tqdm.auto import tqdm

        bar = tqdm(total=limit, desc=f"fetch {name}", unit="img", disable=not progress)
        try:
            if limit <= 0:
                return
            for it in items:
                if self.take(it):
                    bar.update(1)
                    if len(self.accepted) % 20 == 0:
                        self.save()  # progress survives a crash
                    if len(self.accepted) >= limit:
                        return
        except FetchError as e:
            if isinstance(e, ItemGone):
                raise
            raise FetchError(f"{e}\n({self.report.downloaded + self.report.reused} images "
                             f"are complete and kept)") from None
        finally:
            bar.close()

    def take(self, it: Item) -> bool:
        """Sort one listed item; download it when accepted. True when it was accepted."""
        if it.image_id in self.seen:
            return False
        self.seen.add(it.image_id)
        self.urls[it.image_id] = it.image_url
        if it.error:  # the record itself could not be read
            self.report.failed.append((it.image_id, it.error))
            return False
        if not licence_allowed(it.licence, self.allow):
            self._refuse(it, "licence is not public domain / CC0; opt in with "
                             "--allow-licence to fetch it")
            self.report.refused.append((it.image_id, it.licence))
            return False
        if it.left_out:
            self._refuse(it, it.left_out)
            self.report.left_out.append((it.image_id, it.left_out))
            return False
        self.accepted.append(it)
        self.fetch(it)
        return True

    def _refuse(self, it: Item, reason: str) -> None:
        self.refused.append({"source": it.source, "source_id": it.source_id,
                             "title": it.title, "licence": it.licence,
                             "source_url": it.source_url, "reason": reason})

    def fetch(self, it: Item) -> None:
        """Download one accepted item; a failure is recorded, and the run goes on.

        Stops with :class:`FetchError` only when :data:`MAX_FAILURES_IN_A_ROW` items in a
        row fail on the connection (the server is gone: a rerun resumes).
        """
        try:
            self.rows[it.image_id] = _fetch_item(it, self.out, self.existing.get(it.image_id),
                                                 self.http, self.report)
            self.in_a_row = 0
        except (ItemGone, PathEscapeError) as e:  # this item is bad; the others may be fine
            self.report.failed.append((it.image_id, str(e)))
        except FetchError as e:  # the connection: this item, or the whole server?
            self.report.failed.append((it.image_id, str(e)))
            self.in_a_row += 1
            if self.in_a_row >= MAX_FAILURES_IN_A_ROW:
                raise  # consume() adds what is kept


def _is_complete(dest: Path, old: dict | None) -> bool:
    """Whether the file already at ``dest`` is the one images.csv records (or whole)."""
    if old and old.get("sha256"):
        return content_hash(dest) == old["sha256"]
    try:  # written by an interrupted run before images.csv was saved
        verify_image(dest)
        return True
    except ValueError:
        return False


def _fetch_item(it: Item, out: Path, old: dict | None, http: Http,
                report: FetchReport) -> dict:
    """Make sure ``it``'s image is in ``out``; its images.csv row.

    Raises :class:`ItemGone` (or its :class:`~simkit.fetch.http.ItemFailed`) and
    :class:`PathEscapeError` for this item alone, :class:`FetchError` when the server does
    not answer.
    """
    ext = ".png" if it.image_url.lower().endswith(".png") else ".jpg"
    file = f"images/{it.image_id}{ext}"
    # The name comes from the museum's id: it must stay in out, also for the .part.
    inside(out, Path(f"{file}.part"), what="museum id")
    dest = inside(out, Path(file), what="museum id")
    ok = dest.exists() and _is_complete(dest, old)
    if dest.exists() and not ok:
        report.refetched_corrupt += 1
        dest.unlink()
    if ok:
        report.reused += 1
    else:
        http.download(it.image_url, dest, verify_image)
        report.downloaded += 1
    w, h = image_size(dest)
    return {
        "image_id": it.image_id, "file": file, "genre": it.genre, "title": it.title,
        "artist": it.artist, "date": it.date, "year": it.year, "width": str(w),
        "height": str(h), "source": it.source, "source_id": it.source_id,
        "source_url": it.source_url, "image_url": it.image_url,
        "licence": it.licence, "sha256": content_hash(dest),
        "bytes": str(dest.stat().st_size), "subjects": "; ".join(it.subjects)}


def _write_refused(out: Path, refused: list[dict]) -> None:
    """refused.csv lists this run's refused items; when none are refused, there is none."""
    if refused:
        write_csv(pd.DataFrame(refused), out / "refused.csv")
    elif (out / "refused.csv").exists():
        (out / "refused.csv").unlink()


def _write_failed(out: Path, report: FetchReport, urls: dict[str, str]) -> None:
    """failed.csv lists this run's failed items and why; when none failed, there is none."""
    if report.failed:
        write_csv(pd.DataFrame([{"image_id": i, "image_url": urls.get(i, ""), "reason": why}
                                for i, why in report.failed]), out / "failed.csv")
    elif (out / "failed.csv").exists():
        (out / "failed.csv").unlink()


def _write_source_note(out: Path, name: str, src: Source, report: FetchReport,
                       n_accepted: int) -> None:
    text = f"""# Collection `{name}`

{src.description or src.kind}

- API: {src.base_url} (query: {src.query!r})
- fetched with simkit on {utc_now()}: {report.images} images of {n_accepted} accepted,
  {len(report.refused)} refused for their licence and {len(report.left_out)} without an
  image (refused.csv, with the reason of each), {len(report.failed)} failed (failed.csv)
- licence of each image: the `licence` column of images.csv; source page: `source_url`

Only public-domain / CC0 images are fetched unless `--allow-licence` was given. Credit the
museum when you show the images. `genre` is inferred from the museum's subject terms and
titles (column `subjects`); it is empty where they say nothing clear — check it before
using it to group prints.
"""
    write_text(text, out / "SOURCE.md")
