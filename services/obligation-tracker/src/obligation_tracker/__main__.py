from crm_platform.cli import service_main
from obligation_tracker.main import MIGRATIONS
from obligation_tracker.settings import Settings

raise SystemExit(
    service_main(
        settings_factory=Settings,
        app_path="obligation_tracker.main:create_app",
        migrations_dir=MIGRATIONS,
        default_port=8002,
    )
)
