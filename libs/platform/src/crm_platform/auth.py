"""Who is calling, and which tenant's data they may touch.

Every table holding contract data carries `tenant_id`; every query filters through
`Principal.tenant_filter`. Until API keys land, the tenant comes from the `X-Tenant-Id`
header: present, the caller sees only that tenant; absent, the caller is one of the
supplier's own operators and sees every tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header

from crm_platform.errors import NotFound, Unprocessable


@dataclass(frozen=True)
class Principal:
    tenant_id: str | None

    @property
    def all_tenants(self) -> bool:
        return self.tenant_id is None

    def can_access(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id

    def tenant_filter(self, column: Any) -> Any:
        """A WHERE clause for a `tenant_id` column (always true for all-tenant operators)."""
        if self.tenant_id is None:
            return sa.true()
        return column == self.tenant_id

    def resolve_tenant(self, requested: str | None) -> str:
        """The tenant a write acts for: the caller's own, or the one the body names when the
        caller acts for all tenants."""
        if self.tenant_id is None:
            if requested is None:
                raise Unprocessable(
                    "tenant_id is required when the caller acts for all tenants",
                    details=[{"loc": "body.tenant_id", "message": "required"}],
                )
            return requested
        if requested is not None and requested != self.tenant_id:
            raise Unprocessable(
                "tenant_id does not match the caller's tenant",
                details=[{"loc": "body.tenant_id", "message": "another tenant"}],
            )
        return self.tenant_id

    def check(self, tenant_id: str, what: str) -> None:
        # Another tenant's object is reported as missing, never as forbidden.
        if not self.can_access(tenant_id):
            raise NotFound(f"{what} not found")


async def current_principal(
    x_tenant_id: Annotated[
        str | None,
        Header(
            description="Tenant (customer account) to act for; omit for all tenants.",
            max_length=100,
        ),
    ] = None,
) -> Principal:
    return Principal(tenant_id=x_tenant_id or None)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
