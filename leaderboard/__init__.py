"""DeepTool Gym: leaderboard (work in progress; see the README)."""
