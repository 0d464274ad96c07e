"""Who is calling, what they may do, and which tenant's data they may touch.

Every route but health, readiness, metrics and the docs needs an API key
(`Authorization: Bearer crm_<id>_<secret>`, see `crm_platform.apikeys`). A key carries a
tenant (or none: the supplier's operators, all tenants) and scopes. A route needs the scope
its `Security(...)` names, or else `<domain>:read` for GET and `<domain>:write` otherwise,
where the domain is the service's (`contracts`, `sla`, `billing`, `obligations`); `admin`
holds every scope. An all-tenant key may narrow itself to one tenant with `X-Tenant-Id`.
Each key is rate-limited per scope class (`crm_platform.ratelimit`): 429 past its limit.

Every table holding contract data carries `tenant_id`; every query filters through
`Principal.tenant_filter`, and another tenant's object answers 404, never 403.

The bootstrap administrator key (`CRM_ADMIN_API_KEY`) is how the first keys are issued.

A key is taken from the header only, never from a URL: `?api_key=` is refused (401) on
every route, whatever else the request sends. Feeds that clients subscribe to without
headers (calendars) take a feed token in their URL instead (`feed_token`, the `FeedToken`
scheme), checked by the service that owns the feed; a feed token is never an API key.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from crm_platform.errors import NotFound, ServiceError, Unprocessable
from crm_platform.ratelimit import enforce as enforce_rate_limit

ADMIN = "admin"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    tenant_id: str | None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({ADMIN}))
    key_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        if ADMIN in self.scopes or scope in self.scopes:
            return True
        domain, _, action = scope.partition(":")
        return action == "read" and f"{domain}:write" in self.scopes

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


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer crm_<id>_<secret>`. Issued by an "
    "administrator on contract-registry (POST /admin/api-keys).",
)


KEY_IN_URL = (
    "API keys are never accepted in a URL (?api_key=): URLs end up in logs, proxies and "
    "browser history. Send the key as Authorization: Bearer <key>; a calendar client that "
    "cannot send headers subscribes with a feed token instead (obligation-tracker POST "
    "/calendar-feeds). Treat a key that was put in a URL as leaked: revoke it."
)


def refuse_key_in_url(request: Request) -> None:
    """401 for a request naming `api_key` in its query string, whatever else it sends."""
    if "api_key" in request.query_params:
        raise Unauthorized(KEY_IN_URL, details=[{"loc": "query.api_key", "message": "refused"}])


async def _resolve(request: Request, raw: str | None, x_tenant_id: str | None) -> Principal:
    from crm_platform.apikeys import FEED_TOKEN_PREFIX, find_key

    refuse_key_in_url(request)
    if not raw:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    if raw.startswith(FEED_TOKEN_PREFIX):
        raise Unauthorized(
            "a calendar feed token opens its feed URL only (GET /calendar-feeds/<feed_id>/"
            "calendar.ics?token=<token>), never another route: send an API key here"
        )
    state = request.app.state
    admin_key = state.settings.admin_api_key
    if admin_key is not None and hmac.compare_digest(
        raw.encode(), admin_key.get_secret_value().encode()
    ):
        principal = Principal(tenant_id=None, scopes=frozenset({ADMIN}), key_id="bootstrap")
    else:
        # A key checked moments ago costs no session (crm_platform.keycache).
        row = await find_key(state.key_cache, state.session_factory, raw, state.clock.now())
        if row is None:
            raise Unauthorized("the API key is unknown, revoked or expired")
        principal = Principal(tenant_id=row.tenant_id, scopes=row.scopes, key_id=row.key_id)
    if x_tenant_id:
        if principal.tenant_id is None:
            principal = Principal(
                tenant_id=x_tenant_id, scopes=principal.scopes, key_id=principal.key_id
            )
        elif x_tenant_id != principal.tenant_id:
            # Not a 404: the answer is the same whatever tenant is named, so it tells nothing.
            raise Forbidden("this API key acts for one tenant only; X-Tenant-Id names another")
    request.state.principal = principal
    return principal


TenantHeader = Annotated[
    str | None,
    Header(
        description="For keys of the supplier's operators (all tenants): act for this tenant only.",
        max_length=100,
    ),
]


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_tenant_id: TenantHeader = None,
) -> Principal:
    """Who the caller is (no scope check). 401 for a missing, unknown or revoked key."""
    return await _resolve(request, credentials.credentials if credentials else None, x_tenant_id)


AuthenticatedPrincipal = Annotated[Principal, Depends(authenticate)]

FEED_TOKEN_SCHEME = "FeedToken"
feed_token = APIKeyQuery(
    name="token",
    scheme_name=FEED_TOKEN_SCHEME,
    auto_error=False,
    description="A feed token, for feed clients that cannot send headers (calendars): "
    "`?token=crmfeed_<id>_<secret>`. It opens its own feed only, read-only; it is not an API "
    "key, and an API key is never accepted in a URL.",
)
FeedToken = Annotated[str | None, Depends(feed_token)]


async def current_principal(
    request: Request, security_scopes: SecurityScopes, principal: AuthenticatedPrincipal
) -> Principal:
    """The caller, checked for the route's scope (403 without it)."""
    required = security_scopes.scopes or [_default_scope(request)]
    missing = [s for s in required if not principal.has_scope(s)]
    if missing:
        raise Forbidden(f"this API key lacks the scope {' and '.join(missing)}")
    # Counted once the key may call the route (a refused scope costs nothing), before the
    # route does any work (crm_platform.ratelimit).
    enforce_rate_limit(request, principal.key_id, required[0])
    # What the idempotency dependency checks: no stored response before the scope check.
    request.state.scope_checked = True
    return principal


def default_scope(domain: str, method: str) -> str:
    """The scope a route needs when it names none: `<domain>:read` to read, else write."""
    action = "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write"
    return f"{domain}:{action}"


def _default_scope(request: Request) -> str:
    return default_scope(getattr(request.app.state, "scope_domain", ADMIN), request.method)


def _declared_scopes(dependant: Any) -> list[str]:
    # As FastAPI hands them to `security_scopes`: the parents' scopes, then its own.
    scopes: list[str] = []
    for scope in [*(dependant.parent_oauth_scopes or []), *(dependant.own_oauth_scopes or [])]:
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def required_scopes(dependant: Any, domain: str, method: str) -> list[str] | None:
    """The scopes a route checks, read from its dependencies the way the checks above read
    them at request time (so the OpenAPI document cannot drift from them); None when the
    route checks none."""
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is current_principal:
            return _declared_scopes(current) or [default_scope(domain, method)]
        stack.extend(current.dependencies)
    return None


CurrentPrincipal = Annotated[Principal, Security(current_principal)]
