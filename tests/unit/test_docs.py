"""Docs that must follow the code: every module is in docs/architecture.md, every CLI command in
docs/cli.md and the README's command table."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from papersift.cli import app

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "papersift"


def modules() -> list[str]:
    return sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                  if "migrations" not in p.parts and p.name not in ("__init__.py", "__main__.py"))


def test_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for rel in modules():
        folder, _, name = rel.rpartition("/")
        stem = name[:-3]
        ok = rel in doc or (folder and f"`{folder}/`" in doc and re.search(rf"`{re.escape(stem)}`", doc))
        if not ok:
            missing.append(rel)
    assert missing == [], f"docs/architecture.md does not mention: {missing}"


def command_names() -> list[str]:
    click_app = typer.main.get_command(app)
    names = []
    for name, cmd in click_app.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        if subs:
            names += [f"{name} {s}" for s in subs]
            if getattr(cmd, "invoke_without_command", False):
                names.append(name)
        else:
            names.append(name)
    return sorted(names)


def test_cli_doc_and_readme_list_every_command() -> None:
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    readme = (ROOT / "README.md").read_text()
    def listed(doc: str, c: str) -> bool:
        return f"`{c}" in doc or f"papersift {c}" in doc

    assert [c for c in command_names() if not listed(cli_doc, c)] == []
    assert [c for c in command_names() if not listed(readme, c)] == []
