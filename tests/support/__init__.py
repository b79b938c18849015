"""Shared test helpers: local services, users and tokens."""
