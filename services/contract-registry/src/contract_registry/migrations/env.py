from contract_registry.models import Base
from crm_platform.migrations import run_env

run_env(Base.metadata)
