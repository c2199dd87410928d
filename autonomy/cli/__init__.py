"""The ``autonomy`` command line (``autonomy.cli.main:main``)."""

from autonomy.cli.main import cli, main

__all__ = ["cli", "main"]
