"""The delivery worker: POSTs queued events to their subscriptions, signed, with retries.

1. Claim due deliveries with `FOR UPDATE SKIP LOCKED` (N instances share the queue), count
   the attempt and push `next_attempt_at` past the request timeout: that is the lease, so
   a worker that dies mid-request leaves the delivery to be retried, not lost.
2. POST outside any transaction, at most `webhook_concurrency` at a time.
3. Record the attempt in the log; on success the delivery is done, on failure it is
   retried after an exponential backoff until the attempt budget is spent. A subscription
   whose attempts fail `webhook_disable_after_failures` times in a row (or that answers
   410 Gone) is disabled with the reason.

Each attempt is signed afresh as Standard Webhooks say (see `signing`): a new
`webhook-timestamp`, the same `webhook-id`, a signature per active secret (secrets are
stored encrypted, `secret_box`, and decrypted only to sign). Each attempt may only reach a
public address, or one the operator allows (`egress`): the host is resolved and checked
again, and the connection goes to a checked address; a refused attempt is a failed one.

Delivery is at least once: receivers dedupe on `webhook-id` (the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.tracing import context_from, current_carrier, tracer
from obligation_tracker.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks import egress, signing, wakeup
from obligation_tracker.webhooks.secret_box import SecretBox, SecretUnreadable, secret_box

log = structlog.get_logger(__name__)

ATTEMPTS = Counter("crm_webhook_attempts_total", "Webhook delivery attempts", ["result"])
ATTEMPT_SECONDS = Histogram("crm_webhook_attempt_seconds", "Duration of one webhook POST")
DISABLED = Counter("crm_webhook_subscriptions_disabled_total", "Subscriptions disabled")
DELIVERIES = Gauge(
    "crm_webhook_deliveries",
    "Deliveries not delivered: pending (no failed attempt yet), retrying (failed at least "
    "once, will try again), failed (attempts spent, waits for a redelivery)",
    ["state"],
)
OLDEST_PENDING = Gauge(
    "crm_webhook_oldest_pending_age_seconds", "Age of the oldest undelivered pending delivery"
)


async def sample_deliveries(app: FastAPI) -> None:
    """The webhook gauges (a metrics sampler): one query on the (status, ...) index."""
    d = WebhookDelivery
    pending = d.status == "pending"
    async with app.state.session_factory() as session:
        row = (
            await session.execute(
                sa.select(
                    sa.func.count().filter(pending, d.attempts <= d.budget_start),
                    sa.func.count().filter(pending, d.attempts > d.budget_start),
                    sa.func.count().filter(d.status == "failed"),
                    sa.func.min(d.created_at).filter(pending),
                ).where(d.status.in_(("pending", "failed")))
            )
        ).one()
    for state, n in zip(("pending", "retrying", "failed"), row[:3], strict=True):
        DELIVERIES.labels(state).set(n)
    oldest = row[3]
    OLDEST_PENDING.set(max((_now() - oldest).total_seconds(), 0.0) if oldest else 0.0)


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    subscription_id: uuid.UUID
    tenant_id: str
    event_id: str
    event_type: str
    payload: str
    attempt: int
    budget_start: int
    url: str
    # Every secret that signs this attempt, the current one first, still encrypted: they
    # are decrypted for the signature alone, and never printed (repr=False).
    sealed_secrets: tuple[str, ...] = field(repr=False)

    def log_fields(self) -> dict[str, object]:
        """Which delivery and attempt a log line speaks of."""
        return {"delivery_id": str(self.id), "event_id": self.event_id, "attempt": self.attempt}


@dataclass(frozen=True)
class _Result:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._session_factory = session_factory
        self._wall_clock = wall_clock  # signs `webhook-timestamp` (Unix seconds)
        self._settings = settings
        self._box: SecretBox = secret_box(settings)
        self._policy = egress.policy_for(settings)
        self._client = client or httpx.AsyncClient(
            # Connections only to addresses the guard checked (egress.py), no redirects.
            transport=egress.GuardedTransport(self._policy),
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"crm-{settings.service_name}-webhooks/1"},
        )
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._semaphore = asyncio.Semaphore(settings.webhook_concurrency)
        wakeup.register(self)

    def wake(self) -> None:
        self._wakeup.set()

    async def close(self) -> None:
        self._stopping = True
        await self._client.aclose()

    async def run(self) -> None:
        backoff = 0.1
        try:
            while not self._stopping:
                self._wakeup.clear()
                try:
                    attempted = await self.run_once()
                    backoff = 0.1
                    if attempted >= self._settings.webhook_batch_size:
                        continue
                    wait = await self._seconds_to_next_due()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database down: wait, then try again
                    log.warning("webhooks.worker_failed", error=repr(exc), retry_in=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
        finally:
            await self.close()

    async def run_once(self) -> int:
        """Claim one batch of due deliveries and attempt each; returns how many."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._attempt(c) for c in claimed))
        return len(claimed)

    async def _seconds_to_next_due(self) -> float:
        poll = self._settings.webhook_poll_interval_seconds
        async with self._session_factory() as session:
            due = await session.scalar(
                sa.select(sa.func.min(WebhookDelivery.next_attempt_at))
                .join(WebhookSubscription)
                .where(WebhookDelivery.status == "pending", WebhookSubscription.enabled.is_(True))
            )
        if due is None:
            return poll
        return max(0.0, min(poll, (due - _now()).total_seconds()))

    async def _claim(self) -> list[_Claimed]:
        lease = timedelta(seconds=self._settings.webhook_timeout_seconds + 30)
        async with self._session_factory() as session, session.begin():
            now = _now()
            rows = (
                await session.execute(
                    sa.select(
                        WebhookDelivery.id,
                        WebhookDelivery.subscription_id,
                        WebhookDelivery.tenant_id,
                        WebhookDelivery.event_id,
                        WebhookDelivery.event_type,
                        WebhookDelivery.payload,
                        WebhookDelivery.attempts,
                        WebhookDelivery.budget_start,
                        WebhookSubscription.url,
                        WebhookSubscription.secret_encrypted,
                        WebhookSubscription.previous_secret_encrypted,
                        WebhookSubscription.previous_secret_expires_at,
                    )
                    .join(WebhookSubscription)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                        WebhookSubscription.enabled.is_(True),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(self._settings.webhook_batch_size)
                    .with_for_update(of=WebhookDelivery, skip_locked=True)
                )
            ).all()
            if not rows:
                return []
            # Which secrets sign is the signer's clock's question, like `webhook-timestamp`.
            signed_at = datetime.fromtimestamp(self._wall_clock(), UTC)
            await session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([r.id for r in rows]))
                .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + lease)
            )
        return [
            _Claimed(
                id=r.id,
                subscription_id=r.subscription_id,
                tenant_id=r.tenant_id,
                event_id=r.event_id,
                event_type=r.event_type,
                payload=r.payload,
                attempt=r.attempts + 1,
                budget_start=r.budget_start,
                url=r.url,
                sealed_secrets=tuple(
                    signing.active_secrets(
                        r.secret_encrypted,
                        r.previous_secret_encrypted,
                        r.previous_secret_expires_at,
                        signed_at,
                    )
                ),
            )
            for r in rows
        ]

    async def _attempt(self, claimed: _Claimed) -> None:
        # A span in the trace the event was created in (the envelope's tracing extension);
        # the request carries it on as `traceparent`, so the receiver's work joins the trace.
        with tracer.start_as_current_span(
            f"webhook {claimed.event_type}",
            context=_event_trace(claimed.payload),
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "server.address": httpx.URL(claimed.url).host,
                "crm.webhook.delivery_id": str(claimed.id),
                "crm.webhook.attempt": claimed.attempt,
                "messaging.message.id": claimed.event_id,
            },
        ) as span:
            async with self._semaphore:
                result = await self._post(claimed)
            if result.status_code is not None:
                span.set_attribute("http.response.status_code", result.status_code)
            if not result.ok:
                span.set_status(StatusCode.ERROR, (result.error or "failed")[:200])
            ATTEMPTS.labels("ok" if result.ok else "failed").inc()
            ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
            try:
                await self._record(claimed, result)
            except Exception as exc:
                # The lease runs out and the delivery is attempted again: at least once.
                log.warning("webhooks.record_failed", delivery_id=str(claimed.id), error=repr(exc))

    async def _post(self, claimed: _Claimed) -> _Result:
        refused = await self._refusal(claimed.url)
        if refused is not None:
            return _Result(None, refused, 0)
        body = claimed.payload.encode()
        timestamp = int(self._wall_clock())
        try:
            active = [self._box.open(s) for s in claimed.sealed_secrets]
            signed = signing.signed_headers(active, claimed.event_id, timestamp, body)
        except (SecretUnreadable, ValueError) as exc:
            # A secret no configured key decrypts, or a secret or event id the scheme
            # cannot take: a failed attempt that says so.
            return _Result(None, f"not signed: {exc}", 0)
        headers = {
            "Content-Type": "application/json",
            **signed,
            signing.EVENT_TYPE_HEADER: claimed.event_type,
            signing.DELIVERY_ID_HEADER: str(claimed.id),
            signing.ATTEMPT_HEADER: str(claimed.attempt),
            **current_carrier(),  # W3C traceparent / tracestate of this attempt's span
        }
        started = time.perf_counter()
        try:
            response = await self._client.post(claimed.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            guard = egress.refusal_of(exc)
            error = f"refused: {guard}" if guard else f"{type(exc).__name__}: {exc}"
            return _Result(None, error[:500], _elapsed_ms(started))
        duration = _elapsed_ms(started)
        if 200 <= response.status_code < 300:
            return _Result(response.status_code, None, duration)
        if response.is_redirect:
            location = response.headers.get("location", "")[:300]
            error = f"HTTP {response.status_code}: redirects are not followed (to {location})"
            return _Result(response.status_code, error, duration)
        text = response.text[:300].strip()
        return _Result(
            response.status_code,
            f"HTTP {response.status_code}" + (f": {text}" if text else ""),
            duration,
        )

    async def _refusal(self, url: str) -> str | None:
        """Why this attempt may not go (the URL's host, resolved now, is not allowed, or
        does not resolve), or None. Every attempt asks DNS again; the connection itself is
        guarded too (`egress.GuardedBackend`), so what is checked is what is reached."""
        try:
            await asyncio.wait_for(
                egress.check_url(self._policy, url), self._settings.webhook_timeout_seconds
            )
        except egress.EgressRefused as exc:
            return f"refused: {exc}"
        except egress.Unresolvable as exc:
            return f"DNS: {exc}"
        except TimeoutError:
            return f"DNS: resolving the host of {url} timed out"
        return None

    async def _record(self, claimed: _Claimed, result: _Result) -> None:
        async with self._session_factory() as session, session.begin():
            now = _now()
            session.add(
                WebhookAttempt(
                    delivery_id=claimed.id,
                    tenant_id=claimed.tenant_id,
                    attempt=claimed.attempt,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                    at=now,
                )
            )
            if result.ok:
                await _record_delivered(session, claimed, result, now)
            else:
                await _record_failed(session, claimed, result, now, self._settings)


@dataclass(frozen=True)
class _Retry:
    """After a failed attempt: whether the delivery's attempts are spent, and the backoff."""

    exhausted: bool
    delay: float


def _retry(claimed: _Claimed, settings: Settings) -> _Retry:
    used = claimed.attempt - claimed.budget_start
    return _Retry(
        exhausted=used >= settings.webhook_max_attempts,
        delay=signing.backoff_seconds(
            used,
            initial=settings.webhook_backoff_initial_seconds,
            maximum=settings.webhook_backoff_max_seconds,
        ),
    )


def _disable_reason(result: _Result, failures: int | None, settings: Settings) -> str | None:
    """Why the subscription stops after this failed attempt, or None when it goes on."""
    if result.status_code == 410:
        return "the receiver answered 410 Gone"
    if failures is not None and failures >= settings.webhook_disable_after_failures:
        return f"{failures} consecutive failed attempts; last: {result.error}"
    return None


async def _record_delivered(
    session: AsyncSession, claimed: _Claimed, result: _Result, now: datetime
) -> None:
    await session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.id)
        .values(
            status="delivered",
            delivered_at=now,
            last_status_code=result.status_code,
            last_error=None,
        )
    )
    await session.execute(
        sa.update(WebhookSubscription)
        .where(WebhookSubscription.id == claimed.subscription_id)
        .values(consecutive_failures=0)
    )
    log.info("webhooks.delivered", **claimed.log_fields(), duration_ms=result.duration_ms)


async def _record_failed(
    session: AsyncSession, claimed: _Claimed, result: _Result, now: datetime, settings: Settings
) -> None:
    """Retried after the backoff, or failed for good; the subscription's failures counted,
    and the subscription disabled when they say so."""
    retry = _retry(claimed, settings)
    await session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.id)
        .values(
            status="failed" if retry.exhausted else "pending",
            next_attempt_at=now + timedelta(seconds=retry.delay),
            last_status_code=result.status_code,
            last_error=result.error,
        )
    )
    subscription = WebhookSubscription
    failures = await session.scalar(
        sa.update(subscription)
        .where(subscription.id == claimed.subscription_id)
        .values(consecutive_failures=subscription.consecutive_failures + 1)
        .returning(subscription.consecutive_failures)
    )
    reason = _disable_reason(result, failures, settings)
    if reason is not None:
        await _disable(session, claimed.subscription_id, reason, now)
    log.info(
        "webhooks.attempt_failed",
        **claimed.log_fields(),
        error=result.error,
        retry_in=None if retry.exhausted else retry.delay,
    )


async def _disable(
    session: AsyncSession, subscription_id: uuid.UUID, reason: str, now: datetime
) -> None:
    subscription = WebhookSubscription
    disabled = await session.scalar(
        sa.update(subscription)
        .where(subscription.id == subscription_id, subscription.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason[:500], disabled_at=now)
        .returning(subscription.id)
    )
    if disabled is not None:
        DISABLED.inc()
        log.warning(
            "webhooks.subscription_disabled",
            subscription_id=str(subscription_id),
            reason=reason,
        )


def _event_trace(payload: str) -> Context | None:
    """The trace context the queued event names in its envelope, if any."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    return context_from(doc) if isinstance(doc, dict) else None


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def delivery_worker(app: FastAPI) -> None:
    """The worker the service runs in its lifespan (see main.py)."""
    worker = DeliveryWorker(app.state.session_factory, app.state.settings)
    app.state.delivery_worker = worker
    await worker.run()
