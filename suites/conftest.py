"""Suites share the harness fixtures from fixtures/ (loaded by the top-level conftest.py)."""
