"""The events obligation-tracker consumes from sla.v1 and billing.v1, a run at a time:
`plan` decides (pure), `store` loads and writes."""
