from crm_platform.cli import service_main
from sla_monitor.main import MIGRATIONS
from sla_monitor.settings import Settings

raise SystemExit(
    service_main(
        settings_factory=Settings,
        app_path="sla_monitor.main:create_app",
        migrations_dir=MIGRATIONS,
        default_port=8003,
    )
)
