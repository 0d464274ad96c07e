"""`python -m <service> serve|migrate`: the same two commands for every service.

`serve --workers N` (N > 1) runs N uvicorn worker processes under uvicorn's supervisor
(restarts, signals), but not on one shared listening socket as uvicorn binds it: every
worker listens on a socket of its own in one `SO_REUSEPORT` group, and the kernel spreads
new connections over them by their addresses. On one shared socket the worker that wakes
first accepts every connection that is waiting (asyncio and uvloop accept in a loop), so a
few long-lived keep-alive connections opened together, what an ingestion client or a
proxy's pool opens, all land on one worker and the others stay idle: measured with
`bench/sla_ingest.py`'s four clients, every connection on one of the two workers.
"""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from alembic import command
from uvicorn.supervisors import Multiprocess

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
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        # Our JSON lines with the service's name, uvicorn's start-up lines included, in the
        # supervisor and in every worker process.
        "log_config": uvicorn_log_config(
            service=settings.service_name, level=settings.log_level, json=settings.log_json
        ),
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
    if args.workers > 1 and args.port and hasattr(socket, "SO_REUSEPORT"):
        serve_workers(uvicorn.Config(app_path, **options))
    else:
        uvicorn.run(app_path, **options)
    return 0


def serve_workers(config: uvicorn.Config) -> None:
    """`config.workers` processes, each listening on its own socket of one `SO_REUSEPORT`
    group (see the module's text). The address is checked first with a plain bind, so a
    port already in use, by anything, fails here instead of joining another server's
    group."""
    with socket.socket(_family(config.host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            logging.getLogger("uvicorn.error").error(
                "cannot listen on %s:%d: %s", config.host, config.port, exc
            )
            raise SystemExit(3) from exc  # uvicorn's STARTUP_FAILURE
    logging.getLogger("uvicorn.error").info(
        "listening on http://%s:%d, %d workers, a socket each (SO_REUSEPORT)",
        config.host,
        config.port,
        config.workers,
    )
    Multiprocess(config, sockets=[OwnListener(config.host, config.port)]).run()  # type: ignore[list-item]


class OwnListener:
    """Stands for a listening socket in the list uvicorn's supervisor hands every worker
    process it starts (or restarts): unpickled in the worker, it binds a socket there, of
    the `SO_REUSEPORT` group of the address, which the worker then listens on."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Callable[[str, int], socket.socket], tuple[str, int]]:
        return reuse_port_socket, (self.host, self.port)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) in its `SO_REUSEPORT` group, not yet listening.
    Made with the TCP protocol number, so the sockets it accepts are recognisably TCP
    (asyncio turns Nagle off only for those)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
