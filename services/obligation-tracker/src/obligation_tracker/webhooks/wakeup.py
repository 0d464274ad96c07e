"""Wake the in-process delivery workers when a transaction that queued deliveries commits,
so a webhook leaves within milliseconds of its alert; other instances find the rows when
they next poll."""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession


class Wakeable(Protocol):
    def wake(self) -> None: ...


_workers: weakref.WeakSet[Any] = weakref.WeakSet()


def register(worker: Wakeable) -> None:
    _workers.add(worker)


def _wake_all(_session: Any) -> None:
    for worker in list(_workers):
        worker.wake()


def wake_after_commit(session: AsyncSession) -> None:
    sync_session = session.sync_session
    if not sync_session.info.get("crm_webhook_listener"):
        sync_session.info["crm_webhook_listener"] = True
        sa_event.listen(sync_session, "after_commit", _wake_all)
