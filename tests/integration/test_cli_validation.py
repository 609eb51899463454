"""CLI argument edges (issue 8): out-of-range numbers are refused with a clear message and exit
code 2 before anything runs, and every option and argument of every command has help text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from papersift.cli import app

runner = CliRunner(env={"PAPERSIFT_EMBEDDER": "hashing-384", "COLUMNS": "200", "PAPERSIFT_LOG_LEVEL": "WARNING"})


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def run(data: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(data), *args])


@pytest.mark.parametrize(("args", "option", "bound"), [
    (("search", "attention", "--limit", "0"), "--limit", "1"),
    (("search", "attention", "--limit", "-5"), "--limit", "1"),
    (("search", "attention", "--offset", "-1"), "--offset", "0"),
    (("similar", "2401.00001", "--limit", "0"), "--limit", "1"),
    (("serve", "--port", "99999"), "--port", "65535"),
    (("serve", "--port", "0"), "--port", "1"),
    (("serve", "--workers", "0"), "--workers", "1"),
    (("embed", "--batch-size", "0"), "--batch-size", "1"),
])
def test_out_of_range_numbers_exit_2_naming_the_option_and_bound(tmp_path: Path, args: tuple[str, ...],
                                                                  option: str, bound: str) -> None:
    data = tmp_path / "data"
    res = run(data, *args)
    text = flat(res.output)
    assert res.exit_code == 2, text
    assert f"Invalid value for '{option}'" in text, text
    assert bound in text.split(f"'{option}'", 1)[1], text
    assert not data.exists()  # refused before the command touched (or created) the data dir


def test_the_limits_themselves_are_accepted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    res = run(data, "search", "attention", "--limit", "1", "--offset", "0", "--json")
    assert res.exit_code == 0, res.output
    assert '"limit": 1' in res.output and '"offset": 0' in res.output


def test_search_help_states_the_real_default_mode() -> None:
    text = flat(runner.invoke(app, ["search", "--help"]).output)
    assert "default mode is hybrid" in text and "else lexical" in text
    assert "BM25 over title, abstract and authors) with filters" not in text  # the old, wrong summary
    for option, words in (("--limit", "How many results"), ("--offset", "Skip this many"),
                          ("--json", "Print JSON")):
        assert option in text and words in text


def _params(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    for p in cmd.params:
        yield path, p
    for name, sub in getattr(cmd, "commands", {}).items():  # typer vendors click: no isinstance
        yield from _params(sub, [*path, name])


def test_every_option_and_argument_has_help_text() -> None:
    root = typer.main.get_command(app)
    missing = [f"{' '.join(path)} {p.name}" for path, p in _params(root, ["papersift"])
               if not (getattr(p, "help", None) or "").strip()]
    assert missing == []
    # and the count is real: the walk saw the commands it should
    seen = {" ".join(path) for path, _ in _params(root, ["papersift"])}
    assert {"papersift search", "papersift serve", "papersift show", "papersift jobs run"} <= seen
