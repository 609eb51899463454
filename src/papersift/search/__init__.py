"""Query -> hits -> papers."""
