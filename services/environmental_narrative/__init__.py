"""Describes regions."""
