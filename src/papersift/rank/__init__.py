"""Ranking used by every face (web, API, feeds, CLI): ``daily`` (the daily feed by day / week /
month), ``trending`` (the gravity score), ``similar`` (nearest papers). One copy each."""
