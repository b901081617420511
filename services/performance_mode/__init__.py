"""Rendering profiles."""
