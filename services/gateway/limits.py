"""Rate limits at the portal's edge, shared by every gateway replica through MongoDB.

- Per client address and endpoint on the endpoints that take something guessable (`SENSITIVE`: passwords,
  one-time codes, activation codes, presence passwords), `DSP_GATEWAY_RATE_LIMIT_PER_MINUTE`.
- Per client address on the two that make a challenge (`CHALLENGES`, the captcha and the ALTCHA counted
  together: each stores one in activation), the same number a minute.
- Per session on everything a logged-in browser does under `/v1/me/`, `/v1/pro/` and the professional search
  (reads and searches above all), keyed by a hash of the `dsp_session` / `dsp_pro` cookie — the token itself is
  never kept — `DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE`. Counted **once per request from outside**: a portal
  page's 2–3 in-process API calls (`services.gateway.web.api`) are one page view, one hit (`context.OneSessionCheck`
  opens the request's tally). Counted **in this replica's memory** (`SessionWindows`): the session limit is
  against reads and scraping, not guessing, so it is not worth a database round trip per request — in a fleet of
  R gateway replicas behind a round-robin balancer a session may make up to R × the limit a minute (the bound);
  the guessable endpoints' and challenges' limits above stay shared by every replica through MongoDB.

- The FHIR API (`/fhir/r4`, `FhirLimits`), per caller identity, never globally (a stranger cannot use up a
  practice's allowance): its token endpoint per client address, shared by every replica through MongoDB like the
  guessable endpoints, `DSP_GATEWAY_FHIR_TOKEN_RATE_LIMIT_PER_MINUTE` (a request is counted before its assertion
  is checked: signatures cost CPU); its reads per bearer token's client and professional — the pair a token acts
  as, so new tokens start no new allowance — `DSP_GATEWAY_FHIR_RATE_LIMIT_PER_MINUTE`, in this replica's memory as
  the session limit (the same R × the limit bound; a shared count costs four database operations a hit, as much
  as a search's own database work). Refusals are `OperationOutcome`s (429 with `Retry-After`), by the door.

The client address is the TCP peer, unless the peer is one of `DSP_GATEWAY_TRUSTED_PROXIES`: then it is the
nearest address in `X-Forwarded-For` that is not a trusted proxy (a client cannot forge its way past the proxy,
which appends the address it saw). The server must not rewrite the peer itself: `python -m services.gateway`
runs uvicorn with proxy headers off. IPv6 clients count per /64 (one host usually holds a whole /64).

Those shared counts use the `limits` library's sliding-window-counter strategy (the weighted sum of this minute's
and the previous minute's counters, so a burst straddling a minute boundary is not counted twice as fresh) on
`store.counters.MongoCounters`, a storage keyed only by `_id` (see its docstring for what FerretDB allows).
Refusals are problems (`problems.answer`): a 429 with `Retry-After`, a 503 when the counters do not answer.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from contextvars import ContextVar

import structlog
from fastapi import Request, Response
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from . import problems
from .store.counters import Collection, MongoCounters

log = structlog.get_logger("dsp.gateway.limits")

SENSITIVE = frozenset({"/v1/login", "/v1/login/verify", "/v1/activation/start", "/v1/activation/verify-otp",
                       "/v1/pro/login", "/v1/pro/presence-password"})
CHALLENGES = frozenset({"/v1/activation/captcha", "/v1/activation/altcha"})
SESSION_PREFIXES = (("/v1/pro/", "dsp_pro"), ("/v1/me/", "dsp_session"), ("/v1/professionals", "dsp_session"))
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[Network, ...]:
    """`10.0.0.5, 10.1.0.0/16, ::1` → networks; raises ValueError on anything else (settings fail fast)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address, as a rate-limit key: the peer, or (peer a trusted proxy) the nearest untrusted
    address in X-Forwarded-For, read from the right; IPv6 as its /64."""
    def is_trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip.version == net.version and ip in net for net in trusted)

    address = _ip(peer or "")
    if address is None:
        return peer or "unknown"
    if is_trusted(address) and forwarded_for:
        for hop in reversed(forwarded_for.split(",")):
            ip = _ip(hop)
            if ip is None:
                break  # garbage where a proxy should have written an address: keep the last one we trust
            address = ip
            if not is_trusted(ip):
                break
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


def session_key(token: str) -> str:
    """What is kept for a session: a hash of its cookie, never the cookie."""
    return hashlib.sha256(b"dsp-gateway-rate-limit\x1f" + token.encode()).hexdigest()[:32]


counted: ContextVar[dict[str, int | None] | None] = ContextVar("dsp_sessions_counted", default=None)
"""The sessions already counted in this request from outside, each with its answer (None: let through, else the
seconds to wait: every later call of the request is refused as its first was). Opened by `context.OneSessionCheck`;
None: no tally, every call counts."""


class SessionWindows:
    """Per-key sliding-window counters in this process's memory: the weighted sum of this minute's hits and the
    previous minute's (as `limits`' sliding-window counter), O(1) a hit, no I/O. Keys idle for two minutes are
    dropped (swept at most once a minute), so memory is bounded by the sessions active in the last two minutes
    (~200 bytes each). `now`: seconds since the epoch, injectable."""

    def __init__(self, per_minute: int, now: Callable[[], float] = time.time, window_s: int = 60) -> None:
        self.limit, self.now, self.window_s = per_minute, now, window_s
        self._counts: dict[str, tuple[int, int, int]] = {}  # key -> (window number, hits in it, in the one before)
        self._swept = 0

    def hit(self, key: str) -> int | None:
        """Count one hit: None if it is allowed, else the seconds to wait (1-60) and the hit is not counted."""
        now = self.now()
        window = int(now // self.window_s)
        if window > self._swept:
            self._sweep(window)
        number, current, previous = self._counts.get(key, (window, 0, 0))
        if number != window:
            current, previous = 0, (current if number == window - 1 else 0)
        left = self.window_s - now % self.window_s  # of this window: the previous one weighs as much
        if current + math.floor(previous * left / self.window_s) + 1 > self.limit:
            self._counts[key] = (window, current, previous)
            return max(1, min(self.window_s, math.ceil(left)))
        self._counts[key] = (window, current + 1, previous)
        return None

    def _sweep(self, window: int) -> None:
        self._swept = window
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= window - 1}

    def __len__(self) -> int:
        return len(self._counts)


class EdgeLimiter:
    """The gateway's two limits, checked by its HTTP middleware before a route runs."""

    def __init__(self, collection: Collection, per_client_per_minute: int,
                 per_session_per_minute: int, trusted_proxies: tuple[Network, ...] = (),
                 now: Callable[[], float] = time.time) -> None:
        self.strategy = SlidingWindowCounterRateLimiter(MongoCounters(collection))
        self.per_client = RateLimitItemPerMinute(per_client_per_minute, namespace="client")
        self.sessions = SessionWindows(per_session_per_minute, now)
        self.trusted = trusted_proxies

    def client(self, request: Request) -> str:
        forwarded = ",".join(request.headers.getlist("x-forwarded-for")) if self.trusted else None
        return client_address(request.client.host if request.client else None, forwarded, self.trusted)

    async def refusal(self, request: Request) -> Response | None:
        """None to go on, or the answer: 429 with Retry-After and the reason; 503 if the counters' store is
        unreachable (the limit is not silently dropped)."""
        path = request.url.path
        request.state.client_address = address = self.client(request)
        checks: list[tuple[RateLimitItemPerMinute, tuple[str, ...], str]] = []
        if path in SENSITIVE:
            checks.append((self.per_client, (path, address), "too many attempts from this address; wait a minute"))
        elif path in CHALLENGES:
            checks.append((self.per_client, ("challenges", address),
                           "too many challenges asked from this address; wait a minute"))
        cookie = next((name for prefix, name in SESSION_PREFIXES if path.startswith(prefix)), None)
        token = request.cookies.get(cookie) if cookie else None
        if token and (refused := self._session(f"{cookie}/{session_key(token)}")):
            return refused
        try:
            for item, identifiers, reason in checks:
                if not await self.strategy.hit(item, *identifiers):
                    stats = await self.strategy.get_window_stats(item, *identifiers)
                    retry = max(1, min(60, math.ceil(stats.reset_time - time.time())))
                    return problems.answer(429, reason, {"Retry-After": str(retry)}, retry_after_s=retry)
        except StorageError as exc:
            log.warning("rate-limit store unreachable; answered 503", error=type(exc.storage_error).__name__)
            return problems.answer(503, problems.UNAVAILABLE)
        return None

    def _session(self, key: str) -> Response | None:
        """The session's hit, once per request from outside (a page's in-process calls share it)."""
        tally = counted.get()
        if tally is not None and key in tally:
            retry = tally[key]
        else:
            retry = self.sessions.hit(key)
            if tally is not None:
                tally[key] = retry
        if retry is None:
            return None
        return problems.answer(429, "too many requests in this session; wait a minute", {"Retry-After": str(retry)},
                               retry_after_s=retry)


class FhirLimits:
    """The FHIR door's two limits (see the module's docstring); each answers None to go on, else the seconds to
    wait (1-60). `token` raises `limits.errors.StorageError` when the shared counters do not answer."""

    def __init__(self, strategy: SlidingWindowCounterRateLimiter, token_per_minute: int, calls_per_minute: int,
                 now: Callable[[], float] = time.time) -> None:
        self.strategy, self.now = strategy, now
        self.tokens = RateLimitItemPerMinute(token_per_minute, namespace="fhir-token")
        self.calls = SessionWindows(calls_per_minute, now)

    async def token(self, address: str) -> int | None:
        """A token request from `address`."""
        if await self.strategy.hit(self.tokens, address):
            return None
        stats = await self.strategy.get_window_stats(self.tokens, address)
        return max(1, min(60, math.ceil(stats.reset_time - self.now())))

    def call(self, client_id: str | None, professional: str) -> int | None:
        """A read by a token of `client_id` (None: the identity provider's) acting for `professional`."""
        return self.calls.hit(f"{client_id or '-'}|{professional}")
