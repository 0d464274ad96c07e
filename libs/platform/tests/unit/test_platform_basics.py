import pytest

from crm_platform.auth import Principal
from crm_platform.errors import Unprocessable, format_loc
from crm_platform.settings import ServiceSettings, service_settings_config


class _Settings(ServiceSettings):
    model_config = service_settings_config("DEMO_SERVICE_")
    service_name: str = "demo"
    database_url: str = "postgresql://crm:s3cret@db:5432/demo"


def test_locations_read_like_json_paths() -> None:
    assert format_loc(("body", "items", 3, "ended_at")) == "body.items[3].ended_at"
    assert format_loc(()) == "(root)"


def test_settings_take_the_async_driver_and_never_log_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_SERVICE_LOG_LEVEL", "DEBUG")
    settings = _Settings()
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.log_level == "DEBUG"
    dumped = settings.safe_dump()
    assert "s3cret" not in str(dumped)
    assert dumped["database_url"] == "postgresql+asyncpg://crm:***@db:5432/demo"


def test_a_tenant_key_acts_for_its_tenant_only() -> None:
    scoped = Principal(tenant_id="acme")
    assert scoped.resolve_tenant(None) == "acme"
    assert scoped.resolve_tenant("acme") == "acme"
    with pytest.raises(Unprocessable, match="does not match"):
        scoped.resolve_tenant("globex")
    assert scoped.can_access("acme") and not scoped.can_access("globex")


def test_an_operator_must_name_the_tenant_of_a_write() -> None:
    operator = Principal(tenant_id=None)
    with pytest.raises(Unprocessable) as exc:
        operator.resolve_tenant(None)
    assert exc.value.details == [{"loc": "body.tenant_id", "message": "required"}]
    assert operator.resolve_tenant("globex") == "globex"
    assert operator.can_access("anyone")
