"""Token buckets per API key and scope class: the pure decision (with properties over any
sequence of requests), the limit of each scope class, an instance's share, the LRU bound,
the headers and the 429 that names its limit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pydantic import ValidationError

from crm_platform.clock import ManualTimer
from crm_platform.ratelimit import (
    Bucket,
    Limit,
    RateLimiter,
    retry_after_seconds,
    take,
)
from crm_platform.settings import DEFAULT_SCOPE_RATE_LIMITS, ScopeRateLimit, ServiceSettings


class _Settings(ServiceSettings):
    service_name: str = "rate-limit-test"


def limiter(timer: ManualTimer, instances: int = 1, max_buckets: int = 100) -> RateLimiter:
    return RateLimiter(
        default=Limit(10, 20),
        scopes={"*:read": Limit(100, 200), "telemetry:write": Limit(1000, 2000)},
        instances=instances,
        max_buckets=max_buckets,
        timer=timer,
    )


def test_a_new_bucket_is_full_and_refuses_once_its_burst_is_spent() -> None:
    limit = Limit(per_second=2, burst=3)
    bucket = None
    for expected_left in (2, 1, 0):
        decision = take(bucket, limit, 10.0)
        assert decision.allowed and decision.remaining == expected_left
        assert decision.retry_after == 0
        bucket = decision.bucket
    refused = take(bucket, limit, 10.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)  # one token at 2/s
    assert refused.reset_after == pytest.approx(1.5)  # three tokens to full
    assert retry_after_seconds(refused) == 1
    assert not take(refused.bucket, limit, 10.49).allowed
    assert take(refused.bucket, limit, 10.5).allowed


def test_tokens_refill_at_the_rate_up_to_the_burst_only() -> None:
    limit = Limit(per_second=1, burst=5)
    empty = Bucket(tokens=0.0, at=0.0)
    assert take(empty, limit, 2.0).remaining == 1  # 2 refilled, 1 taken
    assert take(empty, limit, 3600.0).remaining == 4  # capped at 5, 1 taken


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    slow = Limit(per_second=0.1, burst=1)  # one request every 10 s
    spent = take(None, slow, 0.0).bucket
    refused = take(spent, slow, 2.5)
    assert refused.retry_after == pytest.approx(7.5)
    assert retry_after_seconds(refused) == 8


times = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=60)
limits = st.builds(
    Limit,
    per_second=st.floats(min_value=0.1, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=50).map(float),
)


@given(limit=limits, gaps=times)
def test_no_window_lets_through_more_than_the_burst_plus_the_rate(
    limit: Limit, gaps: list[float]
) -> None:
    at, bucket, passed = 0.0, None, []
    for gap in gaps:
        at += gap
        decision = take(bucket, limit, at)
        bucket = decision.bucket
        assert 0 <= bucket.tokens <= limit.burst
        if decision.allowed:
            passed.append(at)
    for i, start in enumerate(passed):
        for j in range(i, len(passed)):
            window = passed[j] - start
            assert j - i + 1 <= limit.burst + window * limit.per_second + 1e-6


@given(limit=limits, gaps=times)
def test_waiting_retry_after_always_lets_the_next_request_through(
    limit: Limit, gaps: list[float]
) -> None:
    at, bucket = 0.0, None
    for gap in gaps:
        at += gap
        decision = take(bucket, limit, at)
        bucket = decision.bucket
        if not decision.allowed:
            assert decision.retry_after > 0
            assert take(bucket, limit, at + decision.retry_after).allowed
            assert take(bucket, limit, at + retry_after_seconds(decision)).allowed


@given(limit=limits, requests=st.integers(min_value=1, max_value=200))
def test_requests_at_the_rate_are_never_refused(limit: Limit, requests: int) -> None:
    bucket = None
    for i in range(requests):
        decision = take(bucket, limit, i / limit.per_second)
        assert decision.allowed
        bucket = decision.bucket


def test_a_scope_takes_its_own_limit_else_its_actions_else_the_default() -> None:
    rl = limiter(ManualTimer())
    assert rl.limit_of("telemetry:write") == Limit(1000, 2000)
    assert rl.limit_of("contracts:read") == Limit(100, 200)
    assert rl.limit_of("contracts:write") == Limit(10, 20)
    assert rl.limit_of("admin") == Limit(10, 20)


def test_each_key_and_scope_class_has_its_own_bucket() -> None:
    timer = ManualTimer()
    rl = limiter(timer)
    assert all(rl.check("k1", "contracts:write").allowed for _ in range(20))
    assert not rl.check("k1", "contracts:write").allowed
    # The same key's reads, and another key's writes, are untouched.
    assert rl.check("k1", "contracts:read").allowed
    assert rl.check("k2", "contracts:write").allowed
    timer.advance(0.1)  # one token at 10/s
    assert rl.check("k1", "contracts:write").allowed
    assert not rl.check("k1", "contracts:write").allowed


def test_each_instance_enforces_its_share_of_the_limit() -> None:
    timer = ManualTimer()
    rl = limiter(timer, instances=4)
    assert [rl.check("k1", "contracts:write").allowed for _ in range(6)] == [True] * 5 + [False]
    refused = rl.check("k1", "contracts:write")
    assert refused.retry_after == pytest.approx(1 / 2.5)  # 10/s shared by 4


def test_the_least_recently_used_bucket_goes_first() -> None:
    timer = ManualTimer()
    rl = limiter(timer, max_buckets=2)
    for _ in range(20):
        rl.check("a", "contracts:write")
    rl.check("b", "contracts:write")
    rl.check("a", "contracts:write")  # b is now the least recently used
    rl.check("c", "contracts:write")
    assert len(rl) == 2
    assert not rl.check("a", "contracts:write").allowed  # a's empty bucket was kept


def test_headers_and_the_refusal_name_the_limit() -> None:
    timer = ManualTimer()
    rl = limiter(timer, instances=2)
    for _ in range(10):
        decision = rl.check("0a1b2c3d4e5f", "contracts:write")
    assert rl.headers("contracts:write", decision) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "2",  # 10 tokens at 5/s
    }
    refused = rl.check("0a1b2c3d4e5f", "contracts:write")
    before = REGISTRY.get_sample_value(
        "crm_rate_limit_refusals_total", {"scope": "contracts:write"}
    )
    error = rl.refusal("0a1b2c3d4e5f", "contracts:write", refused)
    assert error.status_code == 429 and error.code == "rate_limited"
    assert error.headers == {"Retry-After": "1"}
    assert "API key 0a1b2c3d4e5f" in error.message
    assert "contracts:write: 10 requests/s with bursts of 20" in error.message
    assert "5/s and 10 on this instance, one of 2" in error.message
    assert error.details == [
        {
            "loc": "header.authorization",
            "message": "rate limit contracts:write: 10 requests/s with bursts of 20 "
            "(5/s and 10 on this instance, one of 2)",
        }
    ]
    assert before is not None and before >= 1


def test_settings_merge_scope_limits_over_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "RATE_LIMIT_SCOPES", '{"telemetry:write": {"per_second": 5000, "burst": 10000}}'
    )
    settings = _Settings(database_url="postgresql+asyncpg://x/y")
    assert settings.rate_limit_scopes["telemetry:write"] == ScopeRateLimit(
        per_second=5000, burst=10000
    )
    assert settings.rate_limit_scopes["*:read"] == DEFAULT_SCOPE_RATE_LIMITS["*:read"]
    rl = RateLimiter.from_settings(settings)
    assert rl.limit_of("telemetry:write") == Limit(5000, 10000)
    assert rl.limit_of("contracts:write") == Limit(500, 1000)


def test_settings_refuse_what_is_not_a_scope_class() -> None:
    with pytest.raises(ValidationError, match="not a scope class"):
        _Settings(
            database_url="postgresql+asyncpg://x/y",
            rate_limit_scopes={"telemetry": {"per_second": 1, "burst": 1}},
        )
    with pytest.raises(ValidationError, match="burst"):
        _Settings(
            database_url="postgresql+asyncpg://x/y",
            rate_limit_scopes={"admin": {"per_second": 1, "burst": 0}},
        )


def test_the_defaults_exceed_what_the_benchmarks_send() -> None:
    settings = _Settings(database_url="postgresql+asyncpg://x/y")
    rl = RateLimiter.from_settings(settings)
    # bench/sla_ingest.py: 10,000-item batches at up to ~50,000 items/s, i.e. ~5 requests/s;
    # bench/auth_lookup.py: ~300 small reads/s on two cores.
    assert rl.limit_of("telemetry:write").per_second >= 100 * math.ceil(50_000 / 10_000)
    assert rl.limit_of("obligations:read").per_second >= 3 * 300
