"""Game settings."""
