"""Quests and their progress."""
