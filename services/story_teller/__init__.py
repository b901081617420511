"""Tells the stories of quests."""
