"""Prepares model invocations."""
