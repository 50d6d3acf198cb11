"""The `secondlook` commands (generate, run) and the run summary they print."""

from pipelines.cli.main import main

__all__ = ["main"]
