"""`python -m <service> serve|migrate`: the same two commands for every service."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import uvicorn
from alembic import command

from crm_platform.logging import uvicorn_log_config
from crm_platform.migrations import alembic_config, upgrade
from crm_platform.settings import ServiceSettings


def service_main(
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_path: str,
    migrations_dir: Path,
    default_port: int,
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API, the relay and the consumers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    serve.add_argument("--workers", type=int, default=1)
    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("revision", nargs="?", default="head")
    revision = sub.add_parser("revision", help="create a migration (autogenerate from models)")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--empty", action="store_true", help="do not autogenerate")
    args = parser.parse_args(argv)
    if args.cmd == "migrate":
        upgrade(migrations_dir, settings_factory().database_url, args.revision)
        return 0
    if args.cmd == "revision":
        command.revision(
            alembic_config(migrations_dir, settings_factory().database_url),
            message=args.message,
            autogenerate=not args.empty,
        )
        return 0
    settings = settings_factory()
    uvicorn.run(
        app_path,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Our JSON lines with the service's name, uvicorn's start-up lines included, in the
        # supervisor and in every worker process.
        log_config=uvicorn_log_config(
            service=settings.service_name, level=settings.log_level, json=settings.log_json
        ),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return 0
