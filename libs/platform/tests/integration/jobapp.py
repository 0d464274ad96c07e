"""An app with just what periodic jobs need (sessions, clock, settings), on the test's
database with the given tables created."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from crm_platform.clock import FixedClock
from crm_platform.db import make_session_factory
from crm_platform.settings import ServiceSettings


@asynccontextmanager
async def job_app(
    metadata: sa.MetaData, settings: ServiceSettings, now: datetime
) -> AsyncIterator[FastAPI]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    app = FastAPI()
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = FixedClock(now)
    app.state.settings = settings
    try:
        yield app
    finally:
        await engine.dispose()
