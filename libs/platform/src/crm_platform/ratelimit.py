"""Rate limits per API key: a token bucket per (key id, scope class).

The scope class of a request is the scope its route checks (`telemetry:write`,
`contracts:read`, `admin`...), so a client flooding one kind of request keeps its others:
an integration posting telemetry in a loop still reads its scorecards, and the bootstrap
administrator key (limited like any other, as `bootstrap`) still issues and revokes keys.
The limit of a class is the first of: its own entry in `rate_limit_scopes`, the entry of
its action (`*:read`, `*:write`), or the default (`rate_limit_per_second`,
`rate_limit_burst`). A request past its limit answers 429 `rate_limited` with
`Retry-After` (whole seconds, RFC 9110) and nothing done; every answer to a limited
request carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.

Shared across instances by division, not by coordination: each instance keeps its buckets
in memory and gives each one the configured rate and burst divided by
`rate_limit_instances` (pods times worker processes). A client whose requests are spread
evenly over the instances gets the configured limit in total; one whose requests all land
on one instance (a single kept-alive connection) gets that instance's share. We chose this
over a bucket in PostgreSQL because the per-request key check opens no database session
(`crm_platform.keycache`) and a limit must not add one back, and over leasing tokens from
PostgreSQL because the limits guard against runaway clients rather than bill for calls, so
an approximation within a factor of the instance count is worth no round trips.

A decision is `take`, a pure function of the bucket, the limit and the time on a monotonic
timer (injectable, `crm_platform.clock.ManualTimer` in tests). `RateLimiter.check` reads,
decides and stores without awaiting anything, so concurrent requests of one event loop
cannot interleave inside it. At most `rate_limit_max_buckets` buckets are kept, the least
recently used going first: the one dropped is the likeliest to have refilled, and if not,
its client gets a full bucket again, never less than its limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from prometheus_client import Counter, Gauge

from crm_platform.clock import MonotonicTimer
from crm_platform.errors import ServiceError
from crm_platform.settings import ServiceSettings

REFUSALS = Counter(
    "crm_rate_limit_refusals_total", "Requests refused (429) by an API key's rate limit", ["scope"]
)
BUCKETS = Gauge("crm_rate_limit_buckets", "Token buckets (API key, scope class) held in memory")

# ASGI scope keys: the request was counted; the headers its answer carries (added by
# crm_platform.observability.RequestContextMiddleware).
COUNTED = "crm.rate_limit_counted"
RESPONSE_HEADERS = "crm.response_headers"

# Float sums of elapsed time × rate fall short of a whole token by rounding; a bucket that
# waited exactly the advertised delay must not be refused for 1e-15 of a token.
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Limit:
    """A sustained rate (requests per second) and the burst a full bucket allows."""

    per_second: float
    burst: float

    def share(self, instances: int) -> Limit:
        """One instance's share when `instances` enforce the limit together (a burst of at
        least one request, or nothing could ever pass)."""
        return Limit(self.per_second / instances, max(1.0, self.burst / instances))


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float  # the monotonic time the tokens were counted at


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    bucket: Bucket  # the bucket after the decision
    retry_after: float  # seconds until a request would pass (0 when this one did)
    reset_after: float  # seconds until the bucket is full again

    @property
    def remaining(self) -> int:
        return math.floor(self.bucket.tokens + EPSILON)


def take(bucket: Bucket | None, limit: Limit, now: float) -> Decision:
    """Whether one request passes `limit` at `now`, and the bucket after it. A bucket not
    seen before is full; tokens refill at `limit.per_second` up to `limit.burst`."""
    if bucket is None:
        tokens = limit.burst
    else:
        elapsed = max(0.0, now - bucket.at)
        tokens = min(limit.burst, bucket.tokens + elapsed * limit.per_second)
        now = max(now, bucket.at)
    allowed = tokens + EPSILON >= 1.0
    if allowed:
        tokens = max(0.0, tokens - 1.0)
    retry_after = 0.0 if allowed else (1.0 - tokens) / limit.per_second
    reset_after = (limit.burst - tokens) / limit.per_second
    return Decision(allowed, Bucket(tokens, now), retry_after, reset_after)


def retry_after_seconds(decision: Decision) -> int:
    """`Retry-After` as RFC 9110 wants it: whole seconds, rounded up (at least 1)."""
    return max(1, math.ceil(decision.retry_after - EPSILON))


class RateLimited(ServiceError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: list[dict[str, str]]) -> None:
        super().__init__(message, details=list(details))
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    """The buckets of one instance, and the limit of each scope class."""

    def __init__(
        self,
        *,
        default: Limit,
        scopes: Mapping[str, Limit],
        instances: int = 1,
        max_buckets: int = 10_000,
        timer: MonotonicTimer = time.monotonic,
    ) -> None:
        self.default = default
        self.scopes = dict(scopes)
        self.instances = instances
        self.max_buckets = max_buckets
        self._timer = timer
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, *, timer: MonotonicTimer = time.monotonic
    ) -> RateLimiter:
        return cls(
            default=Limit(settings.rate_limit_per_second, settings.rate_limit_burst),
            scopes={
                scope: Limit(entry.per_second, entry.burst)
                for scope, entry in settings.rate_limit_scopes.items()
            },
            instances=settings.rate_limit_instances,
            max_buckets=settings.rate_limit_max_buckets,
            timer=timer,
        )

    def __len__(self) -> int:
        return len(self._buckets)

    def limit_of(self, scope: str) -> Limit:
        """The configured limit of a scope class (for all instances together)."""
        action = scope.partition(":")[2]
        return self.scopes.get(scope) or self.scopes.get(f"*:{action}") or self.default

    def check(self, key_id: str, scope: str) -> Decision:
        """Take one request from the bucket of (`key_id`, `scope`)."""
        limit = self.limit_of(scope).share(self.instances)
        key = (key_id, scope)
        decision = take(self._buckets.get(key), limit, self._timer())
        if key not in self._buckets:
            BUCKETS.inc()
        self._buckets[key] = decision.bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
            BUCKETS.dec()
        if not decision.allowed:
            REFUSALS.labels(scope).inc()
        return decision

    def headers(self, scope: str, decision: Decision) -> dict[str, str]:
        """`RateLimit-*` of an answer: this instance's burst, the whole requests left in the
        bucket, and the seconds until it is full again."""
        limit = self.limit_of(scope).share(self.instances)
        return {
            "RateLimit-Limit": str(math.floor(limit.burst)),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(math.ceil(decision.reset_after - EPSILON)),
        }

    def refusal(self, key_id: str, scope: str, decision: Decision) -> RateLimited:
        """The 429 of a refused request, naming the limit it went over."""
        limit = self.limit_of(scope)
        share = limit.share(self.instances)
        seconds = retry_after_seconds(decision)
        where = (
            f" ({share.per_second:g}/s and {share.burst:g} on this instance, one of "
            f"{self.instances})"
            if self.instances > 1
            else ""
        )
        rule = f"{limit.per_second:g} requests/s with bursts of {limit.burst:g}{where}"
        return RateLimited(
            f"API key {key_id} is over its rate limit for {scope}: {rule}; retry after {seconds} s",
            retry_after=seconds,
            details=[{"loc": "header.authorization", "message": f"rate limit {scope}: {rule}"}],
        )


def enforce(request: Request, key_id: str | None, scope: str) -> None:
    """Count the request against the limit of (`key_id`, `scope`) once, or refuse it (429);
    its answer carries the `RateLimit-*` headers either way. Nothing is limited without a
    limiter (`rate_limit_enabled` false) or a key id."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    # Kept in the request's own ASGI scope rather than `request.state`, which is only as
    # per-request as the server makes it (uvicorn copies the lifespan state per request; a
    # bare asgi_lifespan does not, which is why crm_testing.apps copies it).
    if limiter is None or key_id is None or request.scope.get(COUNTED):
        return
    request.scope[COUNTED] = True  # a route checking its principal twice pays once
    decision = limiter.check(key_id, scope)
    request.scope[RESPONSE_HEADERS] = limiter.headers(scope, decision)
    if not decision.allowed:
        raise limiter.refusal(key_id, scope, decision)
