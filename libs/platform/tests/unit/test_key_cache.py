"""The in-memory cache of verified API keys: TTL on an injected timer, the LRU bound,
invalidation (also after a commit), the race with a revocation, and key expiry checked
against the request's time rather than the entry's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from crm_platform.clock import ManualTimer as Timer
from crm_platform.keycache import CachedKey, KeyCache, sha256_hex

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def key(key_id: str, secret: str = "s3cret", expires_at: datetime | None = None) -> CachedKey:
    return CachedKey(
        key_id=key_id,
        tenant_id="acme",
        scopes=frozenset({"sla:read"}),
        secret_sha256=sha256_hex(secret),
        expires_at=expires_at,
    )


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def timer() -> Timer:
    return Timer()


def test_an_entry_is_served_until_its_ttl_then_read_again(timer: Timer) -> None:
    cache = KeyCache(ttl_seconds=2.0, max_entries=10, timer=timer)
    hits, misses = (
        counted("crm_auth_key_cache_lookups_total", result="hit"),
        counted("crm_auth_key_cache_lookups_total", result="miss"),
    )
    expired = counted("crm_auth_key_cache_evictions_total", reason="expired")
    assert cache.get("k1") is None
    cache.put(key("k1"), cache.ticket())
    timer.at += 1.999
    assert cache.get("k1") == key("k1")
    timer.at += 0.001  # 2 s after the read began: gone, whoever used it meanwhile
    assert cache.get("k1") is None
    assert len(cache) == 0
    assert counted("crm_auth_key_cache_lookups_total", result="hit") - hits == 1
    assert counted("crm_auth_key_cache_lookups_total", result="miss") - misses == 2
    assert counted("crm_auth_key_cache_evictions_total", reason="expired") - expired == 1


def test_the_ttl_counts_from_the_start_of_the_read(timer: Timer) -> None:
    cache = KeyCache(ttl_seconds=2.0, max_entries=10, timer=timer)
    ticket = cache.ticket()
    timer.at += 1.5  # a slow database read
    cache.put(key("k1"), ticket)
    timer.at += 0.5
    assert cache.get("k1") is None


def test_the_least_recently_used_key_goes_first_when_full(timer: Timer) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=2, timer=timer)
    entries = counted("crm_auth_key_cache_entries")
    lru = counted("crm_auth_key_cache_evictions_total", reason="lru")
    cache.put(key("a"), cache.ticket())
    cache.put(key("b"), cache.ticket())
    assert cache.get("a") is not None  # b is now the least recently used
    cache.put(key("c"), cache.ticket())
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert counted("crm_auth_key_cache_evictions_total", reason="lru") - lru == 1
    assert counted("crm_auth_key_cache_entries") - entries == 2
    cache.put(key("c"), cache.ticket())  # stored again: replaced, not counted twice
    assert counted("crm_auth_key_cache_entries") - entries == 2
    cache.clear()
    assert counted("crm_auth_key_cache_entries") - entries == 0


def test_an_invalidated_key_is_read_again(timer: Timer) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=10, timer=timer)
    invalidated = counted("crm_auth_key_cache_evictions_total", reason="invalidated")
    cache.put(key("a"), cache.ticket())
    cache.put(key("b"), cache.ticket())
    cache.invalidate("a")
    assert cache.get("a") is None
    assert cache.get("b") is not None
    cache.invalidate("never-cached")  # nothing to drop, nothing counted
    assert counted("crm_auth_key_cache_evictions_total", reason="invalidated") - invalidated == 1


def test_a_read_that_raced_an_invalidation_is_not_kept(timer: Timer) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=10, timer=timer)
    ticket = cache.ticket()  # a request starts reading the row (still unrevoked)...
    cache.invalidate("a")  # ...the revocation commits meanwhile...
    cache.put(key("a"), ticket)  # ...and what the request read must not be kept
    assert cache.get("a") is None
    cache.put(key("a"), cache.ticket())  # a read begun after it is kept
    assert cache.get("a") is not None


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (2.0, 0)])
def test_a_zero_ttl_or_size_keeps_nothing(timer: Timer, ttl: float, size: int) -> None:
    cache = KeyCache(ttl_seconds=ttl, max_entries=size, timer=timer)
    assert not cache.enabled
    cache.put(key("a"), cache.ticket())
    assert cache.get("a") is None and len(cache) == 0


def test_the_secret_is_checked_against_the_kept_hash_and_never_kept() -> None:
    entry = key("a", secret="right")
    assert entry.matches("right")
    assert not entry.matches("wrong")
    assert "right" not in repr(entry)


def test_expiry_is_checked_at_the_time_asked_not_when_the_entry_goes() -> None:
    entry = key("a", expires_at=NOW)
    assert entry.valid_at(NOW - timedelta(microseconds=1))
    assert not entry.valid_at(NOW)
    assert key("b").valid_at(NOW + timedelta(days=3650))
