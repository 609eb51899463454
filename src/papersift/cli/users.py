"""papersift user create / list: web accounts from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, open_engine, out

user_app = typer.Typer(help="Manage web accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Username (2-40 letters, digits, '.', '_', '-').")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    password: Annotated[str | None, typer.Option(
        envvar="PAPERSIFT_PASSWORD", help="Password (else prompted; or env PAPERSIFT_PASSWORD).")] = None,
) -> None:
    """Create a web account (for example the first admin)."""
    from papersift import accounts

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    eng = open_engine()
    try:
        user = accounts.create_user(eng.db, name, password, is_admin=admin)
    except accounts.AccountError as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(1) from None
    finally:
        eng.close()
    out.print(f"created {'admin ' if user.is_admin else ''}user {user.username}")


@user_app.command("list")
def user_list() -> None:
    """List web accounts."""
    from papersift import accounts

    eng = open_engine()
    try:
        for u in accounts.list_users(eng.db):
            out.print(f"{u.username}{'  (admin)' if u.is_admin else ''}  created {u.created_at:%Y-%m-%d}")
    finally:
        eng.close()


app.add_typer(user_app, name="user")
