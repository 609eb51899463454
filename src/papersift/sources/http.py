"""A polite HTTP client over httpx, shared by every harvester.

* ``User-Agent: papersift/<version> (+contact: <email>)`` (the contact comes from settings).
* At least ``delay`` seconds between the end of one response and the next request (arXiv asks for
  3 s); 0 is allowed only for a loopback endpoint (tests, a local mirror).
* 503 (and 429) with ``Retry-After`` (seconds or an HTTP date): wait that long, then retry.
* Other failures (timeouts, connection errors, 5xx, a body the caller rejects as truncated or
  malformed): exponential backoff with jitter, at most ``tries`` attempts in all.
* Other 4xx answers fail at once (retrying would not help); with ``connect_tries`` (the worker's
  jobs: 1) a connection that cannot be made at all (offline, no DNS) fails after that many tries.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

DEFAULT_DELAY = 3.0
MAX_RETRY_AFTER = 3600.0  # a server asking for more than an hour: give up and say so


class SourceError(RuntimeError):
    """A source could not be read (after the retries); the message says why, for people."""


class BadBody(ValueError):
    """Raised by a response check: the body is unusable (truncated, malformed); retry it."""


def papersift_version() -> str:
    try:
        return version("papersift")
    except PackageNotFoundError:
        return "0"


def user_agent(contact: str | None) -> str:
    contact = (contact or "").strip()
    who = f"+contact: {contact}" if contact else "+contact: unset (PAPERSIFT_HARVEST_CONTACT)"
    return f"papersift/{papersift_version()} ({who})"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_delay(url: str, delay: float) -> float:
    """The delay to use for ``url``; ValueError for a negative one or 0 against a remote host."""
    if delay < 0:
        raise ValueError(f"the delay between requests must be >= 0 seconds, not {delay:g}")
    if delay < 1 and not is_loopback(url):
        raise ValueError(f"a delay under 1 s is allowed only for a loopback endpoint (127.0.0.1, localhost); "
                         f"{urlsplit(url).hostname} asks for {DEFAULT_DELAY:g} s between requests")
    return delay


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    t = now if now is not None else time.time()
    return max(0.0, when.timestamp() - t)


@dataclass
class Fetched:
    url: str
    status: int
    content: bytes
    headers: httpx.Headers
    tries: int


class PoliteClient:
    """GET with politeness (see the module doc). One per harvest; not for concurrent use."""

    def __init__(self, *, delay: float = DEFAULT_DELAY, contact: str | None = None, timeout: float = 60.0,
                 tries: int = 6, backoff: float = 2.0, max_backoff: float = 300.0, connect_tries: int | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[str, float], None] | None = None) -> None:
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.delay = delay
        self.tries = tries
        self.connect_tries = tries if connect_tries is None else max(1, connect_tries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.on_wait = on_wait
        self.requests = 0
        self._last_end: float | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
                                    headers={"User-Agent": user_agent(contact)}, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def headers(self) -> httpx.Headers:
        return self._client.headers

    def _wait(self, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        if self.on_wait is not None:
            self.on_wait(why, seconds)
        self.sleep(seconds)

    def _pace(self) -> None:
        if self._last_end is None or self.delay <= 0:
            return
        left = self._last_end + self.delay - time.monotonic()
        if left > 0:
            self.sleep(left)

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return max(self.delay, base * random.uniform(0.5, 1.5))

    def get(self, url: str, params: dict[str, Any] | None = None,
            check: Callable[[bytes], None] | None = None) -> Fetched:
        """GET ``url``; retries as the module doc says. ``check(body)`` may raise BadBody to have a
        truncated or malformed body fetched again. Raises SourceError when every try failed."""
        last = ""
        for attempt in range(1, self.tries + 1):
            self._pace()
            wait: float | None = None
            try:
                self.requests += 1
                resp = self._client.get(url, params=params)
                body = resp.content
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                if isinstance(e, httpx.ConnectError) and attempt >= self.connect_tries:
                    raise SourceError(f"{url}: cannot connect, offline? ({last})") from None
            else:
                status = resp.status_code
                if status == 200:
                    try:
                        if check is not None:
                            check(body)
                        return Fetched(str(resp.url), status, body, resp.headers, attempt)
                    except BadBody as e:
                        last = f"unusable response body: {e}"
                elif status in (429, 503):
                    wait = retry_after(resp.headers.get("Retry-After"))
                    last = f"HTTP {status}" + (f", Retry-After {wait:g}s" if wait is not None else "")
                    if wait is not None and wait > MAX_RETRY_AFTER:
                        raise SourceError(f"{url}: the server asks to wait {wait:.0f}s before retrying "
                                          f"(more than {MAX_RETRY_AFTER:.0f}s); try again later")
                elif status >= 500 or status == 408:
                    last = f"HTTP {status}"
                else:
                    snippet = " ".join(body[:200].decode("utf-8", "replace").split())
                    raise SourceError(f"{url}: HTTP {status} {resp.reason_phrase}: {snippet}")
            finally:
                self._last_end = time.monotonic()
            if attempt == self.tries:
                break
            wait = self._backoff(attempt) if wait is None else max(wait, self.delay)
            log.warning("%s: %s; retrying in %.1fs (try %d of %d)", urlsplit(url).netloc or url, last, wait,
                        attempt + 1, self.tries)
            self._wait(wait, last)
            self._last_end = time.monotonic() - self.delay  # the wait counts as the delay
        raise SourceError(f"{url}: no usable answer after {self.tries} tries (last: {last})")


def utc_now() -> datetime:
    return datetime.now(UTC)
