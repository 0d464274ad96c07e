from crm_platform.migrations import run_env
from obligation_tracker.models import Base

run_env(Base.metadata)
