"""An outage (database or broker unreachable, shutting down, out of connections) is told
apart from a failure of the event or request itself."""

from __future__ import annotations

import asyncpg.exceptions as pg
import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from crm_events.infrastructure import is_infrastructure_error, sqlstate


def _wrapped(error: Exception) -> DBAPIError:
    return DBAPIError("SELECT 1", None, error)


@pytest.mark.parametrize(
    "error",
    [
        pg.CannotConnectNowError("the database system is shutting down"),  # 57P03
        pg.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
        pg.CrashShutdownError("crash shutdown"),  # 57P02
        pg.TooManyConnectionsError("sorry, too many clients already"),  # 53300
        pg.ConnectionFailureError("connection failure"),  # 08006
    ],
)
def test_postgresql_going_away_is_an_outage(error: Exception) -> None:
    assert is_infrastructure_error(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        pg.UniqueViolationError("duplicate key"),  # 23505
        pg.InvalidTextRepresentationError("invalid input syntax"),  # 22P02
        pg.UndefinedTableError("relation does not exist"),  # 42P01
    ],
)
def test_errors_of_the_statement_or_its_data_are_not(error: Exception) -> None:
    assert not is_infrastructure_error(_wrapped(error))


def test_connection_errors_of_any_layer_are_outages() -> None:
    assert is_infrastructure_error(OperationalError("SELECT 1", None, OSError("refused")))
    assert is_infrastructure_error(ConnectionRefusedError())
    assert is_infrastructure_error(KafkaConnectionError())
    assert is_infrastructure_error(TimeoutError())
    assert is_infrastructure_error(PoolTimeout("QueuePool limit of size 10 overflow 10 reached"))
    assert not is_infrastructure_error(IntegrityError("INSERT", None, ValueError("dup")))
    assert not is_infrastructure_error(ValueError("bad"))


def test_the_sqlstate_is_found_on_the_error_it_wraps() -> None:
    assert sqlstate(_wrapped(pg.CannotConnectNowError("x"))) == "57P03"
    assert sqlstate(ValueError("no database here")) is None
