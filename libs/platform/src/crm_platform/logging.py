"""structlog JSON logs. Correlation ids come from the event envelope or the
`X-Correlation-Id` request header and are bound to every line written meanwhile.

Every line names its `service` (uvicorn's own lines too: they go through the same handler,
see `uvicorn_log_config`), and a line written inside a recording span names its `trace_id` and
`span_id`, so a log line leads to its trace."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace

_SECRET_MARKERS = ("secret", "password", "api_key", "apikey", "authorization", "token")


@functools.lru_cache(maxsize=4096)
def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if isinstance(key, str) and _is_secret(key):
            event_dict[key] = "***"
    return event_dict


# The process's service name, read at each line rather than captured when logging is
# configured: loggers that structlog cached on first use keep the processors of the first
# configuration, and a process that configures again (tests do) must still name its service.
_SERVICE: dict[str, str] = {}


def _add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if "service" in _SERVICE:
        event_dict.setdefault("service", _SERVICE["service"])
    return event_dict


def _add_trace(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid and "trace_id" not in event_dict:
        event_dict["trace_id"] = trace.format_trace_id(span_context.trace_id)
        event_dict["span_id"] = trace.format_span_id(span_context.span_id)
    return event_dict


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    _SERVICE["service"] = service
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        # Not a context variable: uvicorn logs from tasks that never saw the service's context.
        _add_service,
        _add_trace,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            # A line below the level is dropped before any work is done for it.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Python's warnings too (else printed raw to stderr): logger py.warnings.
    logging.captureWarnings(True)
    # The request line of `RequestContextMiddleware` replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn's own handlers, if an earlier log config left any, would print lines
        # without the service; its lines go to the root handler instead.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.contextvars.clear_contextvars()


def uvicorn_log_config(*, service: str, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """uvicorn's `log_config`: uvicorn applies it (`logging.config.dictConfig`) in its own
    process before it says anything, and again in every worker process it starts, so all
    their lines come out as ours, with the service's name."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "crm": {
                "()": "crm_platform.logging.configured_handler",
                "service": service,
                "level_name": level,
                "json": json,
            }
        },
        "root": {"handlers": ["crm"], "level": level.upper()},
    }


def configured_handler(*, service: str, level_name: str, json: bool) -> logging.Handler:
    """`configure_logging`, returning the handler it installed (a dictConfig factory)."""
    configure_logging(service=service, level=level_name, json=json)
    return logging.getLogger().handlers[0]
