"""``python -m papersift.cli``: the command line."""

from papersift.cli import app

app()
