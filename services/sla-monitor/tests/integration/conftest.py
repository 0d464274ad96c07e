"""The helpers and fixtures live in sla_harness.py, so tests can import them by name
(pytest `pythonpath` puts this folder on the path)."""

from sla_harness import harness  # noqa: F401
