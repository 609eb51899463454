"""papersift user create / email / list: web accounts from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, open_engine, out

user_app = typer.Typer(help="Manage web accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Username (2-40 letters, digits, '.', '_', '-').")],
    email: Annotated[str | None, typer.Option("--email", help="E-mail address (for the digest).")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input (scripts).")] = False,
    password: Annotated[str | None, typer.Option(
        envvar="PAPERSIFT_PASSWORD", help="Password (else prompted; or env PAPERSIFT_PASSWORD).")] = None,
) -> None:
    """Create a web account (for example the first admin)."""
    from papersift import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            err.print("[red]error:[/] --password-stdin: standard input held no password")
            raise typer.Exit(1)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    eng = open_engine()
    try:
        user = accounts.create_user(eng.db, name, password, is_admin=admin, email=email)
    except accounts.AccountError as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(1) from None
    finally:
        eng.close()
    out.print(f"created {'admin ' if user.is_admin else ''}user {user.username}"
              + (f" <{user.email}>" if user.email else ""))


@user_app.command("email")
def user_email(
    name: Annotated[str, typer.Argument(help="Username.")],
    address: Annotated[str, typer.Argument(help="New e-mail address; an empty string removes it.")],
) -> None:
    """Set or change a user's e-mail address (the digest goes there)."""
    from papersift import accounts

    eng = open_engine()
    try:
        stored = accounts.set_email(eng.db, name, address)
    except accounts.AccountError as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(1) from None
    finally:
        eng.close()
    out.print(f"{accounts.users.normalize_username(name)}: e-mail {stored or 'removed'}")


@user_app.command("list")
def user_list() -> None:
    """List web accounts."""
    from papersift import accounts

    eng = open_engine()
    try:
        for u in accounts.list_users(eng.db):
            out.print(f"{u.username}{'  (admin)' if u.is_admin else ''}  created {u.created_at:%Y-%m-%d}"
                      + (f"  <{u.email}>" if u.email else ""), soft_wrap=True)
    finally:
        eng.close()


app.add_typer(user_app, name="user")
