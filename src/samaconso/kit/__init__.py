"""Shared plumbing with no business rules."""
