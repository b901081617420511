"""Routes AI tasks to registered models."""
