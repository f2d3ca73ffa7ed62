"""DeepTool Gym: benchmarks (work in progress; see the README)."""
