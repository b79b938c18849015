"""legacy domain."""
