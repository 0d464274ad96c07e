from crm_platform.migrations import run_env
from sla_monitor.models import Base

run_env(Base.metadata)
