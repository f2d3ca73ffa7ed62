"""DeepTool Gym leaderboard: submission validation and re-grading, a FastAPI server that
stores submissions in SQLite or PostgreSQL (alembic migrations), the ranked HTML pages and
their static export, and the `deeptool-leaderboard` command line.

Nothing is imported here, so `leaderboard.validate` works without the server's extras.
"""
