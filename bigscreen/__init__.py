"""bigscreen: the real-time command-centre wall for grid-based city governance."""

__version__ = "0.1.0"
