"""Re-encrypt every stored webhook secret with the first key of
OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS, the step of a key rotation between "the new key
first, the old one still listed" and "the old one dropped" (docs/obligation-tracker.md):

    python -m obligation_tracker.webhooks.rekey            # re-encrypt, print how many
    python -m obligation_tracker.webhooks.rekey --new-key  # print a fresh Fernet key

Safe to run while the service runs, and again: rows already under the first key are left
alone; each batch is re-encrypted in one transaction with its rows locked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_platform.db import make_engine, make_session_factory
from obligation_tracker.models import WebhookSubscription
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks.secret_box import SecretBox, SecretUnreadable, new_key, secret_box

BATCH = 200


@dataclass
class Rekeyed:
    reencrypted: int = 0  # subscriptions whose secret(s) the first key now encrypts
    unreadable: int = 0  # subscriptions no configured key decrypts (left as they are)


async def reencrypt(
    session_factory: async_sessionmaker[AsyncSession], box: SecretBox, *, batch: int = BATCH
) -> Rekeyed:
    done = Rekeyed()
    after: uuid.UUID | None = None
    s = WebhookSubscription
    while True:
        async with session_factory() as session, session.begin():
            query = sa.select(s).order_by(s.id).limit(batch).with_for_update()
            if after is not None:
                query = query.where(s.id > after)
            rows = (await session.scalars(query)).all()
            for row in rows:
                _reencrypt_row(row, box, done)
        if len(rows) < batch:
            return done
        after = rows[-1].id


def _reencrypt_row(row: WebhookSubscription, box: SecretBox, done: Rekeyed) -> None:
    stale = [
        sealed
        for sealed in (row.secret_encrypted, row.previous_secret_encrypted)
        if sealed is not None and not box.is_current(sealed)
    ]
    if not stale:
        return
    try:
        row.secret_encrypted = box.reseal(row.secret_encrypted)
        if row.previous_secret_encrypted is not None:
            row.previous_secret_encrypted = box.reseal(row.previous_secret_encrypted)
    except SecretUnreadable:
        done.unreadable += 1
        return
    done.reencrypted += 1


async def _main(settings: Settings) -> Rekeyed:
    engine = make_engine(settings)
    try:
        return await reencrypt(make_session_factory(engine), secret_box(settings))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m obligation_tracker.webhooks.rekey")
    parser.add_argument("--new-key", action="store_true", help="print a fresh Fernet key")
    args = parser.parse_args(argv)
    if args.new_key:
        print(new_key())
        return 0
    result = asyncio.run(_main(Settings()))
    print(f"re-encrypted: {result.reencrypted}; unreadable: {result.unreadable}")
    if result.unreadable:
        print("unreadable secrets: list their key again, or rotate them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
