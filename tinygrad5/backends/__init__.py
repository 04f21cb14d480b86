"""Array-level implementations of the heavy ops; see tinygrad5.backend for the switch."""
