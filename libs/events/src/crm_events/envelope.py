"""The CloudEvents 1.0 envelope (JSON, structured mode) every event travels in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm_events.types import Instant

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """The bytes on the wire are not a CloudEvents envelope we can read."""


class Envelope(BaseModel):
    """CloudEvents attributes plus our extensions `tenant`, `correlationid`, `causationid`.

    `subject` is the contract id and doubles as the Kafka key, so all events of one
    contract stay in one partition and keep their order.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = SPEC_VERSION
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str
    time: Instant = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = CONTENT_TYPE
    dataschema: str
    tenant: str
    correlationid: str
    causationid: str | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Envelope:
        if raw is None:
            raise EnvelopeError("empty message (no value)")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise EnvelopeError("a CloudEvents envelope must be a JSON object")
        if doc.get("specversion") != SPEC_VERSION:
            raise EnvelopeError(f"unsupported specversion {doc.get('specversion')!r}")
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            raise EnvelopeError(f"invalid envelope: {_first_errors(exc)}") from exc

    @property
    def key(self) -> bytes:
        return self.subject.encode()


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    return _first_errors(exc, limit)
