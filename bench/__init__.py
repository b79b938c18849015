"""Benchmarks: they measure and print figures; they are not timed tests."""
