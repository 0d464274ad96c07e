"""The verified API keys a service instance keeps in memory, so that a request with a key
seen moments ago opens no database session.

What is kept is what the `api_keys` row says (key id, tenant, scopes, the SHA-256 of the
secret, expiry), never the key itself: a presented key is checked against the kept hash in
constant time, and its expiry against the service's clock on every request, so an expired
key is refused at its expiry, not when its entry goes.

How long a revocation can go unseen is bounded twice:
- the service's access.v1 consumer drops the key's entry once the revocation is committed
  to the service's table (`invalidate_after_commit`), as does the revoking request on
  contract-registry: the instance that handles the event refuses the key at once;
- an entry lives `api_key_cache_ttl_seconds` (default 2) counted from the start of the
  read that loaded it, on the monotonic clock: the other instances of the service (its
  consumer group gives each event to one of them), or an instance whose consumer missed the
  event, refuse the key at most that long after the revocation reached their database.

Only keys found and not revoked are kept. An unknown key id is not remembered, so a key
issued a moment ago works as soon as its row exists: at once on contract-registry, as soon
as access.v1 brings it elsewhere. A read that raced a revocation does not store what it
read (`Ticket`). The cache holds `api_key_cache_max_entries` keys at most, the least
recently used going first; a TTL or a size of 0 turns it off.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

CACHE_LOOKUPS = Counter(
    "crm_auth_key_cache_lookups_total",
    "API key checks answered from memory (hit) or from the database (miss)",
    ["result"],
)
CACHE_EVICTIONS = Counter(
    "crm_auth_key_cache_evictions_total",
    "API keys dropped from memory: lru (size bound), expired (TTL), invalidated (access.v1)",
    ["reason"],
)
CACHE_ENTRIES = Gauge("crm_auth_key_cache_entries", "API keys held in memory")


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedKey:
    """A stored, unrevoked key as its row says it; never the secret."""

    key_id: str
    tenant_id: str | None
    scopes: frozenset[str]
    secret_sha256: str
    expires_at: datetime | None

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_sha256, sha256_hex(secret))

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class Ticket(NamedTuple):
    """Taken before a database read: the entry counts its age from `started`, and is not
    stored when an invalidation happened since (`invalidations`)."""

    invalidations: int
    started: float


class KeyCache:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._timer = timer
        self._entries: OrderedDict[str, tuple[float, CachedKey]] = OrderedDict()
        self._invalidations = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_id: str) -> CachedKey | None:
        """The kept key, if it was loaded less than the TTL ago (counted hit or miss)."""
        item = self._entries.get(key_id)
        if item is not None and self._timer() - item[0] >= self.ttl_seconds:
            self._drop(key_id, "expired")
            item = None
        if item is None:
            CACHE_LOOKUPS.labels("miss").inc()
            return None
        self._entries.move_to_end(key_id)
        CACHE_LOOKUPS.labels("hit").inc()
        return item[1]

    def ticket(self) -> Ticket:
        return Ticket(self._invalidations, self._timer())

    def put(self, key: CachedKey, ticket: Ticket) -> None:
        """Keep a key read from the database after `ticket` was taken, unless a key was
        invalidated meanwhile (the read may predate that revocation's commit)."""
        if not self.enabled or ticket.invalidations != self._invalidations:
            return
        if self._entries.pop(key.key_id, None) is None:
            CACHE_ENTRIES.inc()
        self._entries[key.key_id] = (ticket.started, key)
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._drop(oldest, "lru")

    def invalidate(self, key_id: str) -> None:
        self._invalidations += 1
        self._drop(key_id, "invalidated")

    def clear(self) -> None:
        self._invalidations += 1
        for key_id in list(self._entries):
            self._drop(key_id, "invalidated")

    def _drop(self, key_id: str, reason: str) -> None:
        if self._entries.pop(key_id, None) is not None:
            CACHE_ENTRIES.dec()
            CACHE_EVICTIONS.labels(reason).inc()


def invalidate_after_commit(session: AsyncSession, cache: KeyCache, key_id: str) -> None:
    """Drop `key_id` from `cache` once `session`'s transaction commits (not before: a request
    reading the row in between would keep the old state), and also right away."""

    def after_commit(_session: Any) -> None:
        cache.invalidate(key_id)

    cache.invalidate(key_id)
    sa.event.listen(session.sync_session, "after_commit", after_commit, once=True)
