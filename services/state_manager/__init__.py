"""Versioned key-value state."""
