"""A polite HTTP client for museum APIs: pacing, User-Agent, retries, and an answer cache."""
from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from simkit import __version__
from simkit.errors import SimkitError
from simkit.fileio import atomic_write

__all__ = ["USER_AGENT", "SCHEMES", "MAX_DOWNLOAD_BYTES", "MAX_JSON_BYTES", "FetchError",
           "ItemGone", "ItemFailed", "UnsafeUrlError", "require_http", "Http", "ApiCache",
           "utc_now", "retry_after_seconds", "MAX_WAIT", "CHALLENGE", "Unreachable"]

USER_AGENT = (f"simkit/{__version__} (image-similarity research kit; "
              f"+https://github.com/simkit; one request at a time)")


class FetchError(SimkitError, RuntimeError):
    """A download could not be completed; the message says what to do (usually: run again)."""



class Unreachable(FetchError):
    """No answer at all (no network, no such host, refused connection) after every try."""


class ItemGone(FetchError):
    """The server answered 4xx for one image: that item is skipped, the others go on."""


class ItemFailed(ItemGone):
    """One image cannot be kept (refused address, too big, not a usable image): that item is
    recorded as failed, the others go on."""


class UnsafeUrlError(ItemFailed):
    """An address that is not http(s) (``file:``, ``ftp:``, …), named by a manifest, a
    record, a redirect or the command line; simkit reads the network over http(s) only."""


#: The only URL schemes simkit reads: a remote answer must never open a local file.
SCHEMES = ("http", "https")
#: A download larger than this is refused (a hostile server could fill the disk).
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
#: An API answer larger than this is refused.
MAX_JSON_BYTES = 64 * 1024 * 1024
#: No single wait (back-off or ``Retry-After``) is longer than this many seconds: a server
#: asking for an hour is better answered by stopping and running again later.
MAX_WAIT = 600.0
#: The message for an image host that answers scripts with a browser check (Cloudflare,
#: Incapsula): retrying soon rarely helps, the IIIF manifest often goes another way.
CHALLENGE = ("the image host answered with a browser challenge (403); try later or use the "
             "IIIF manifest")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date.

    ``now``: the current time in seconds since the epoch (default: the clock's). ``None``
    for a missing or unreadable header; never negative.

    >>> retry_after_seconds("120")
    120.0
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0)
    60.0
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _is_challenge(error: urllib.error.HTTPError) -> bool:
    """Whether a 403 is a browser check (Cloudflare's challenge page) that a script cannot
    pass, rather than a firewall's temporary block (Incapsula's, which a wait lifts)."""
    headers = error.headers or {}
    if (headers.get("cf-mitigated") or "").lower() == "challenge":
        return True
    try:
        head = error.read(4096).decode("utf-8", "replace").lower()
    except (OSError, http.client.HTTPException):
        return False
    return any(k in head for k in ("just a moment", "cf-chl", "challenge-platform",
                                   "captcha"))


def require_http(url: str, what: str = "address") -> str:
    """``url`` if it is an http(s) address with a host; else :class:`UnsafeUrlError`.

    The one scheme check: every request, every redirect and the ``iiif:`` manifest URL pass
    through it.
    """
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError as e:
        raise UnsafeUrlError(f"{what} {str(url)[:200]!r} is not a valid URL ({e})") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise UnsafeUrlError(f"{what} {str(url)[:200]!r}: only http:// and https:// "
                             f"addresses are read; give an http(s) URL")
    return str(url)


def _api_refusal(url: str, error: urllib.error.HTTPError) -> str:
    """The message of an API's own 403 (JSON with ``error`` / ``detail``), not a firewall's."""
    try:
        body = json.loads(error.read(65536).decode("utf-8"))
    except (OSError, ValueError, http.client.HTTPException):
        body = {}
    error.close()
    said = "; ".join(str(body[k]) for k in ("error", "detail", "message")
                     if isinstance(body, dict) and body.get(k))
    return f"GET {url}: HTTP 403 from the API{': ' + said if said else ''}"


class _HttpOnlyRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): urllib itself would follow one to ``ftp:``."""

    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                require_http(urllib.parse.urljoin(req.full_url, location),
                             f"redirect from {req.full_url} to")
            except UnsafeUrlError:
                fp.close()
                raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    """An opener with the http(s) handlers only (no file:, ftp: or data: handler)."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    _HttpOnlyRedirect(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener



_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
              socket.timeout, TimeoutError)


class _Retry(Exception):
    """Worth another try; ``item``: the file itself was wrong (not the connection), so the
    last failure is this item's, and the others go on."""

    def __init__(self, reason: str, wait: float | None = None, *, item: bool = False,
                 status: int = 0, challenge: bool = False, url: str = ""):
        super().__init__(reason)
        self.url = url
        self.wait = wait
        self.item = item
        self.status = status
        self.challenge = challenge


class Http:
    """A polite HTTP client: per-host pacing, User-Agent, retries with capped back-off.

    Parameters
    ----------
    min_interval
        Seconds between two requests to the same host (each host is paced on its own, so
        an API and its image server do not slow each other down).
    host_intervals
        Another interval for some hosts (``{"images.metmuseum.org": 1.0}``).
    retries
        Further tries after a 403, 429, 5xx or a dropped connection.
    backoff
        The first wait after a 429 / 5xx / dropped connection, doubled at each try.
    throttle_wait
        The first wait after a 403: firewalls (the Met's Incapsula) block for 30 s or more
        after a burst, so a short back-off only extends the block. Doubled at each try.
    max_wait
        No single wait is longer (``Retry-After`` included).
    sleep, clock
        Injectable for tests: ``sleep(seconds)`` and a monotonic ``clock()``.
    notify
        Called with one line whenever the client waits for a server (the CLI prints it).

    ``requests`` counts every request sent (tests use it to prove a rerun asks nothing);
    ``waited`` sums the seconds spent in back-off.
    """

    def __init__(self, *, user_agent: str = USER_AGENT, min_interval: float = 1.0,
                 retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                 extra_headers: dict | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 max_bytes: int = MAX_DOWNLOAD_BYTES, throttle_wait: float = 30.0,
                 max_wait: float = 300.0, host_intervals: dict[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 notify: Callable[[str], None] | None = None) -> None:
        self.user_agent = user_agent
        self.min_interval = float(min_interval)
        self.host_intervals = {k.lower(): float(v) for k, v in (host_intervals or {}).items()}
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.throttle_wait = float(throttle_wait)
        self.max_wait = min(float(max_wait), MAX_WAIT)
        self.timeout = float(timeout)
        self.headers = {"User-Agent": user_agent, **(extra_headers or {})}
        self.max_bytes = int(max_bytes)
        self.requests = 0
        self.waited = 0.0
        self._sleep = sleep
        self._clock = clock
        self._notify = notify or (lambda line: None)
        self._last: dict[str, float] = {}
        self._opener = _opener()

    def _wait_turn(self, url: str) -> None:
        """Keep the host's interval since its last request (per host, see the class)."""
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        interval = self.host_intervals.get(host, self.min_interval)
        last = self._last.get(host)
        if last is not None:
            gap = interval - (self._clock() - last)
            if gap > 0:
                self._sleep(gap)
        self._last[host] = self._clock()

    def _open(self, url: str, headers: dict | None = None):
        require_http(url)
        self._wait_turn(url)
        self.requests += 1
        req = urllib.request.Request(url, headers={**self.headers, **(headers or {})})
        try:
            return self._opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == 403 and "json" in (e.headers.get("Content-Type") or "" if e.headers
                                            else ""):
                raise ItemGone(_api_refusal(url, e)) from None  # an API's answer: final
            if e.code in (403, 429) or e.code >= 500:
                wait = retry_after_seconds(e.headers.get("Retry-After") if e.headers else None)
                challenge = e.code == 403 and _is_challenge(e)
                e.close()
                raise _Retry(f"HTTP {e.code} from {url}", wait, status=e.code,
                             challenge=challenge, url=url) from None
            raise
        except _TRANSIENT as e:
            raise _Retry(f"{type(e).__name__}: {e} ({url})", url=url) from None

    def _wait_for(self, r: "_Retry", attempt: int) -> float:
        """How long to wait after ``r`` at try ``attempt`` (0-based), capped at max_wait."""
        if r.wait is not None:
            return min(r.wait, self.max_wait)
        first = self.throttle_wait if r.status == 403 else self.backoff
        return min(first * 2 ** attempt, self.max_wait)

    def _pause(self, r: "_Retry", attempt: int) -> None:
        """Wait before the next try, and say why (a 403 is a firewall, not a bad address)."""
        wait = self._wait_for(r, attempt)
        host = urllib.parse.urlsplit(r.url).hostname or "" if r.url else ""
        if r.challenge:
            why = "the image host answered with a browser challenge (403)"
        elif r.status == 403:
            why = "the museum's firewall is throttling us (HTTP 403)"
        elif r.status == 429:
            why = "the server asks us to slow down (HTTP 429)"
        elif r.status >= 500:
            why = f"the server is busy (HTTP {r.status})"
        elif r.status:
            why = f"the server's answer was unusable ({str(r)[:120]})"
        else:
            why = f"the connection failed ({str(r)[:120]})"
        if wait >= 1:
            self._notify(f"{why}{' at ' + host if host else ''}; waiting {wait:.0f} s "
                         f"(try {attempt + 2} of {self.retries + 1})")
        self.waited += wait
        self._sleep(wait)

    def _with_retries(self, action: Callable[[int], object], what: str):
        last, answered = "", False
        for attempt in range(self.retries + 1):
            try:
                return action(attempt)
            except _Retry as r:
                last, answered = str(r), bool(r.status)
                if attempt == self.retries:
                    if r.item:
                        raise ItemFailed(f"{last} (after {self.retries + 1} tries)") from None
                    if r.challenge:  # this host refuses scripts; the others may not
                        raise ItemFailed(f"{what}: {CHALLENGE}") from None
                    if r.status == 403:
                        last = (f"{last}: the museum's firewall still blocks us; wait a few "
                                f"minutes (or slow down with --rate)")
                    break
                self._pause(r, attempt)
            except urllib.error.HTTPError:
                raise  # 4xx: asking again will not help
            except _TRANSIENT as e:  # dropped while reading the body
                last = f"{type(e).__name__}: {e}"
                if attempt == self.retries:
                    break
                self._pause(_Retry(last), attempt)
        kind = FetchError if answered else Unreachable
        raise kind(f"{what}: gave up after {self.retries + 1} tries ({last}); the "
                   f"server is busy or unreachable. Run the same command again later: "
                   f"it resumes where it stopped")

    def get_json(self, url: str) -> dict:
        """The JSON answer of ``url`` (retried on 429, 5xx and dropped connections)."""
        def attempt(_):
            with self._open(url, {"Accept": "application/json"}) as resp:
                body = resp.read(MAX_JSON_BYTES + 1)
            if len(body) > MAX_JSON_BYTES:
                raise FetchError(f"GET {url}: the answer is larger than {MAX_JSON_BYTES:,} "
                                 f"bytes; check the address (--base-url)")
            try:
                return json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _Retry(f"{url} did not answer JSON", status=200, url=url) from None
        try:
            return self._with_retries(attempt, f"GET {url}")
        except urllib.error.HTTPError as e:
            # ItemGone: a caller reading one record of many may skip it and go on.
            raise ItemGone(f"GET {url}: HTTP {e.code} {e.reason}; check the address "
                           f"(--base-url) and the query") from None

    def download(self, url: str, dest: Path, verify: Callable[[Path], None]) -> None:
        """Download ``url`` to ``dest`` (atomic rename), resuming ``dest.part`` if present.

        The bytes arrive in ``dest.part`` and become ``dest`` only once ``verify(part)``
        accepts them. ``verify`` raises ``ValueError`` for a file that cannot be kept; it is
        deleted and fetched again (counted as a try).

        Raises
        ------
        ItemGone
            The server answered 4xx for this image.
        ItemFailed
            The address is not http(s) (also after a redirect), the file is larger than
            ``max_bytes``, or it still fails ``verify`` at the last try; no ``.part`` is left.
        FetchError
            The server stays unreachable; the ``.part`` is kept for the next run to resume.
        """
        part = dest.with_name(dest.name + ".part")
        try:
            self._with_retries(lambda _: self._download_once(url, part, dest, verify),
                               f"download {url}")
        except urllib.error.HTTPError as e:
            part.unlink(missing_ok=True)
            raise ItemGone(f"download {url}: HTTP {e.code} {e.reason}") from None
        except ItemFailed:
            part.unlink(missing_ok=True)
            raise

    def _download_once(self, url: str, part: Path, dest: Path,
                       verify: Callable[[Path], None]) -> None:
        """One try of :meth:`download`."""
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
            if total is not None and total > self.max_bytes:
                raise ItemFailed(f"{url}: {total:,} bytes announced, more than the limit "
                                 f"of {self.max_bytes:,}; not downloaded")
            with open(part, "ab" if resumed else "wb") as fh:
                size = fh.tell()
                while chunk := resp.read(1 << 16):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ItemFailed(f"{url}: more than {self.max_bytes:,} bytes; "
                                         f"not kept")
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
            # Named after the download, not the temporary file the user never sees.
            why = str(e).replace(str(part), url)
            raise _Retry(f"{why}", 0.0, item=True) from None
        os.replace(part, dest)


class ApiCache:
    """API answers on disk, keyed by URL, so a rerun (or an offline workshop) asks nothing."""

    def __init__(self, root: Path, http: Http, refresh: bool) -> None:
        self.root, self.http, self.refresh = root / "api", http, refresh
        self.hits = 0

    def get_json(self, url: str, *, missing_ok: bool = False) -> dict | None:
        """The recorded answer of ``url``, or the server's (then recorded).

        ``missing_ok``: a 4xx answer (:class:`ItemGone`) is recorded too, and ``None`` is
        returned, now and on every rerun (a probe for an API version the server lacks is
        asked once, not once a run).
        """
        path = self.root / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".json")
        if path.exists() and not self.refresh:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("missing") and missing_ok:
                    self.hits += 1
                    return None
                if not data.get("missing"):
                    self.hits += 1
                    return data["body"]
            except (json.JSONDecodeError, KeyError, AttributeError):
                pass  # a damaged cache entry: ask again
        try:
            body = self.http.get_json(url)
        except ItemGone as e:
            if not missing_ok:
                raise
            self._record(path, {"url": url, "fetched": utc_now(), "missing": str(e)})
            return None
        self._record(path, {"url": url, "fetched": utc_now(), "body": body})
        return body

    @staticmethod
    def _record(path: Path, entry: dict) -> None:
        with atomic_write(path, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

