"""A polite HTTP client for museum APIs: pacing, User-Agent, retries, and an answer cache."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from simkit import __version__
from simkit.errors import SimkitError
from simkit.fileio import atomic_write

__all__ = ["USER_AGENT", "FetchError", "ItemGone", "Http", "ApiCache", "utc_now"]

USER_AGENT = (f"simkit/{__version__} (image-similarity research kit; "
              f"+https://github.com/simkit; one request at a time)")


class FetchError(SimkitError, RuntimeError):
    """A download could not be completed; the message says what to do (usually: run again)."""



class ItemGone(FetchError):
    """The server answered 4xx for one image: that item is skipped, the others go on."""



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
        """The JSON answer of ``url`` (retried on 429, 5xx and dropped connections)."""
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



class ApiCache:
    """API answers on disk, keyed by URL, so a rerun (or an offline workshop) asks nothing."""

    def __init__(self, root: Path, http: Http, refresh: bool) -> None:
        self.root, self.http, self.refresh = root / "api", http, refresh
        self.hits = 0

    def get_json(self, url: str) -> dict:
        """The recorded answer of ``url``, or the server's (then recorded)."""
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
            json.dump({"url": url, "fetched": utc_now(), "body": body}, fh)
        return body


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

