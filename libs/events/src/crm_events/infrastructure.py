"""Telling an outage from a bad event or request.

A failure of the database or broker connection is retried until it passes (a consumer
never dead-letters an event for it; an HTTP request gets 503 and is retried). PostgreSQL
says so by SQLSTATE too: while it shuts down, restarts or is full, the errors come back as
plain `DBAPIError`s ("the database system is shutting down", 57P03), not as connection
errors — they are the outage all the same. So is a connection pool that gives no
connection within its timeout: every connection is busy, the database is saturated.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# 08: connection exception; 57P01-57P05: admin/crash shutdown, cannot connect now, ... ;
# 53300: too many connections.
OUTAGE_SQLSTATE_PREFIXES = ("08", "57P", "53300")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (on the exception or one it wraps), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_infrastructure_error(exc: BaseException) -> bool:
    """True for failures of the database or broker connection rather than of the event."""
    if isinstance(
        exc, (OperationalError, InterfaceError, ConnectionError, OSError, KafkaError, TimeoutError)
    ):
        return True
    if isinstance(exc, PoolTimeout):
        # Every pooled connection busy for pool_timeout: the database is saturated (a soak
        # found HTTP answering 500 for it); wait and retry like any outage.
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = sqlstate(exc)
        return state is not None and state.startswith(OUTAGE_SQLSTATE_PREFIXES)
    return False
