"""tariffs domain."""
