"""Helpers shared by tests in more than one folder (see tests/README.md)."""
