from contract_registry.main import MIGRATIONS
from contract_registry.settings import Settings
from crm_platform.cli import service_main

raise SystemExit(
    service_main(
        settings_factory=Settings,
        app_path="contract_registry.main:create_app",
        migrations_dir=MIGRATIONS,
        default_port=8001,
    )
)
