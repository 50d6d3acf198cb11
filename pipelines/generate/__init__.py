"""Synthetic landing data for Second Look: `generate_frames`, `write_landing`, `generate`."""

from pipelines.generate.generator import generate_frames
from pipelines.generate.landing_files import generate, write_landing

__all__ = ["generate", "generate_frames", "write_landing"]
