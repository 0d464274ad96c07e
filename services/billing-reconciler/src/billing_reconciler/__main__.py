from billing_reconciler.main import MIGRATIONS
from billing_reconciler.settings import Settings
from crm_platform.cli import service_main

raise SystemExit(
    service_main(
        settings_factory=Settings,
        app_path="billing_reconciler.main:create_app",
        migrations_dir=MIGRATIONS,
        default_port=8004,
    )
)
