"""DeepTool Gym: agents (work in progress; see the README)."""
