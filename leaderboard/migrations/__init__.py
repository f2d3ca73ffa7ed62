"""Alembic migrations of the leaderboard database (run by `Database.upgrade`)."""
