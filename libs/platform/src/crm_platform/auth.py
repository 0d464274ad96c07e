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

from crm_platform.errors import NotFound


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
