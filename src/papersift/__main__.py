"""``python -m papersift``: the command line."""

from papersift.cli import app

app()
