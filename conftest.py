"""Loads the harness: every fixture and hook lives in fixtures/ (see fixtures/plugin.py)."""

pytest_plugins = ["fixtures.plugin"]
