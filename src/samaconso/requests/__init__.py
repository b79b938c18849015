"""requests domain."""
