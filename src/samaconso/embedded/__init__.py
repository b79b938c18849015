"""embedded domain."""
