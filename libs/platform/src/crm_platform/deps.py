"""Dependency aliases for routes: `SessionDep`, `ClockDep`, `SettingsDep`, `CurrentPrincipal`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from crm_platform.auth import CurrentPrincipal
from crm_platform.clock import Clock
from crm_platform.db import SessionDep
from crm_platform.emitter import EmitDep
from crm_platform.idempotency import IdempotencyDep
from crm_platform.settings import ServiceSettings


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


ClockDep = Annotated[Clock, Depends(_clock)]
SettingsDep = Annotated[ServiceSettings, Depends(_settings)]

__all__ = ["ClockDep", "CurrentPrincipal", "EmitDep", "IdempotencyDep", "SessionDep", "SettingsDep"]
