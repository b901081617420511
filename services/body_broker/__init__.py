"""Allocates bodies to NPCs."""
