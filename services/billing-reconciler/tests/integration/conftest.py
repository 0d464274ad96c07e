"""The helpers and fixtures live in billing_harness.py, so tests can import them by name
(pytest `pythonpath` puts this folder on the path)."""

from billing_harness import billing  # noqa: F401
