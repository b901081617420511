"""Weather per region."""
