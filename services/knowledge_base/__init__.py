"""Lore articles and search."""
