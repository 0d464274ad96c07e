"""Event payload schemas, one module per producing service (plus the ingestion topics)."""
