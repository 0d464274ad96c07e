from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_platform.pagination import Page

Role = Annotated[str, Field(min_length=1, max_length=200)]


class CalendarFeedCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "J. Doe's obligations",
                    "owner": "j.doe@globex.example",
                    "roles": ["service_delivery_manager"],
                    "tenant_id": "acme-bank",
                },
                {"name": "Service delivery team", "roles": ["service_delivery_manager"]},
            ]
        },
    )

    name: str = Field(
        default="Obligations",
        min_length=1,
        max_length=200,
        description="The calendar's name in the client (X-WR-CALNAME).",
    )
    owner: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The person whose open obligations the feed holds (an obligation's "
        "`owner`, as assigned by PATCH /obligations/{id}).",
    )
    roles: list[Role] = Field(
        default_factory=list,
        max_length=20,
        description="Owner roles (an obligation's `owner_role`, e.g. "
        "`service_delivery_manager`). With `owner`: also the open obligations of these "
        "roles that nobody is assigned to yet. Without: every open obligation of these roles.",
    )
    tenant_id: str | None = Field(
        default=None,
        max_length=100,
        description="The tenant whose obligations the feed shows: the caller's own (may be "
        "omitted), or required when the caller acts for all tenants.",
    )

    @model_validator(mode="after")
    def _someone(self) -> CalendarFeedCreate:
        if self.owner is None and not self.roles:
            raise ValueError("name the owner, or at least one role, the feed is for")
        self.roles = sorted(set(self.roles))
        return self


class CalendarFeedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    feed_id: str
    tenant_id: str
    name: str
    owner: str | None
    roles: list[str]
    issued_at: datetime
    issued_by: str | None = Field(description="The id of the API key that issued it.")
    revoked_at: datetime | None
    revoked_reason: str | None


class CalendarFeedIssued(CalendarFeedRead):
    token: str | None = Field(
        description="The feed token, `crmfeed_<feed_id>_<secret>`. Shown once: only its hash "
        "is stored. Null on an idempotent replay (`Idempotent-Replayed: true`); revoke the "
        "feed and issue another if it was lost."
    )
    feed_url: str | None = Field(
        description="The URL to subscribe to in a calendar client, the token in its query "
        "string (`webcal://` works as well as `https://`). Shown once, like the token."
    )


class CalendarFeedPage(Page[CalendarFeedRead]):
    """A page of calendar feeds (never their tokens)."""


class CalendarFeedRevoke(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "j.doe left the account"}]}
    )

    reason: str = Field(default="", max_length=500)
