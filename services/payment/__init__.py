"""A signed ledger of charges and refunds."""
