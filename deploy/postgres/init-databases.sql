-- One database per service, owned by the application role (POSTGRES_USER=crm).
-- Run by the postgres image's entrypoint (psql, as POSTGRES_USER) on the first start with an
-- empty data directory only. Each CREATE DATABASE is guarded so that running this file again
-- by hand (psql -U crm -d postgres -f init-databases.sql) is harmless.

SELECT format('CREATE DATABASE %I OWNER %I', db, current_user)
FROM unnest(ARRAY[
    'crm_contract_registry',
    'crm_obligation_tracker',
    'crm_sla_monitor',
    'crm_billing_reconciler'
]) AS db
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db)
\gexec
