"""Fake remote endpoints for the harvester tests: small threaded HTTP servers on 127.0.0.1."""
