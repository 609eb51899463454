"""Indexes built from the store: lexical (BM25, tantivy) and dense vectors."""
