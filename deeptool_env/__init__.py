"""DeepTool Gym: a Gymnasium environment for tool-integrated math reasoning."""

__version__ = "0.1.0"
