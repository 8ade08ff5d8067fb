"""Rate limits at the portal's edge, shared by every gateway replica through MongoDB.

- Per client address and endpoint on the endpoints that take something guessable (`SENSITIVE`: passwords,
  one-time codes, activation codes, presence passwords), `DSP_GATEWAY_RATE_LIMIT_PER_MINUTE`.
- Per client address on the two that make a challenge (`CHALLENGES`, the captcha and the ALTCHA counted
  together: each stores one in activation), the same number a minute.
- Per session on everything a logged-in browser does under `/v1/me/`, `/v1/pro/` and the professional search
  (reads and searches above all), keyed by a hash of the `dsp_session` / `dsp_pro` cookie — the token itself is
  never stored — `DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE`.

The client address is the TCP peer, unless the peer is one of `DSP_GATEWAY_TRUSTED_PROXIES`: then it is the
nearest address in `X-Forwarded-For` that is not a trusted proxy (a client cannot forge its way past the proxy,
which appends the address it saw). The server must not rewrite the peer itself: `python -m services.gateway`
runs uvicorn with proxy headers off. IPv6 clients count per /64 (one host usually holds a whole /64).

Counting uses the `limits` library's sliding-window-counter strategy (the weighted sum of this minute's and the
previous minute's counters, so a burst straddling a minute boundary is not counted twice as fresh) on
`store.counters.MongoCounters`, a storage keyed only by `_id` (see its docstring for what FerretDB allows).
Refusals are problems (`problems.answer`): a 429 with `Retry-After`, a 503 when the counters do not answer.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time

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
    """What is stored for a session: a hash of its cookie, never the cookie."""
    return hashlib.sha256(b"dsp-gateway-rate-limit\x1f" + token.encode()).hexdigest()[:32]


class EdgeLimiter:
    """The gateway's two limits, checked by its HTTP middleware before a route runs."""

    def __init__(self, collection: Collection, per_client_per_minute: int,
                 per_session_per_minute: int, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.strategy = SlidingWindowCounterRateLimiter(MongoCounters(collection))
        self.per_client = RateLimitItemPerMinute(per_client_per_minute, namespace="client")
        self.per_session = RateLimitItemPerMinute(per_session_per_minute, namespace="session")
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
        if token:
            checks.append((self.per_session, (cookie or "", session_key(token)),
                           "too many requests in this session; wait a minute"))
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
