"""The web faces: HTML pages and the JSON API."""
