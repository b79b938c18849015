"""consumption domain."""
