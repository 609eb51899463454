"""papersift digest send / preview / settings / feed: the e-mail digest from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, open_engine, out, progress_bar, state

digest_app = typer.Typer(help="The e-mail digest (docs/digest.md).", no_args_is_help=True)


def _mail_settings(require_smtp: bool):  # -> MailSettings
    from papersift.accounts import secret_key
    from papersift.notify.mail import MailSettings

    try:
        return MailSettings.from_settings(state.settings, secret_key(state.settings.data_dir,
                                                                     state.settings.secret_key),
                                          require_smtp=require_smtp)
    except ValueError as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(2) from None


def _user(eng, name: str):  # -> accounts.User
    from papersift import accounts

    user = accounts.get_user(eng.db, name)
    if user is None:
        err.print(f"[red]error:[/] no user {esc(name)!r}")
        raise typer.Exit(1)
    return user


@digest_app.command("send")
def digest_send(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show who is due and what they would get; "
                                                              "claim and send nothing.")] = False,
    user: Annotated[str | None, typer.Option("--user", help="Only this user (still once per period).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Send every due digest now (what the worker's digest job does). Exit 1 if any failed."""
    from papersift.jobs.lease import worker_id
    from papersift.notify.sender import send_due

    ms = _mail_settings(require_smtp=not dry_run)
    eng = open_engine(role="reader")
    try:
        if user is not None:
            _user(eng, user)

        with progress_bar() as bar:
            task = bar.add_task("digests", total=None, rate="")

            def progress(o) -> None:
                bar.advance(task)
                if o is not None:
                    bar.update(task, rate=f"last: {o.user} {o.status}")

            outcomes = send_due(eng, ms, state.settings.digest_lease, worker_id("digest-cli"),
                                username=user.strip().lower() if user else None, dry_run=dry_run,
                                on_start=lambda n: bar.update(task, total=n), on_progress=progress)
    finally:
        eng.close()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    if as_json:
        out.print_json(json.dumps({"dry_run": dry_run, "counts": counts, "results": [o.as_dict() for o in outcomes]}))
    else:
        for o in outcomes:
            extra = f" {len(o.papers)} papers" if o.papers else ""
            extra += f" — {o.error}" if o.error else ""
            out.print(f"{esc(o.user)} <{esc(o.email)}> {o.period}: {o.status}{esc(extra)}", soft_wrap=True)
        out.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no digest due")
    if counts.get("failed"):
        raise typer.Exit(1)


@digest_app.command("status")
def digest_status(as_json: Annotated[bool, typer.Option("--json", help="A JSON list on stdout.")] = False) -> None:
    """Every subscriber: schedule, the period due now and its state, the last digest sent."""
    from papersift.notify.schedule import due_period
    from papersift.store import digest as sql

    eng = open_engine()
    try:
        rows = []
        for r in sql.subscribers(eng.db):
            try:
                period = due_period(r.frequency, int(r.hour), r.timezone).key
            except ValueError as e:
                period = f"? ({e})"
            now_row = sql.send_row(eng.db, r.id, period)
            last = sql.last_sent(eng.db, r.id, 1)
            rows.append({"user": r.username, "email": r.email, "frequency": r.frequency, "hour": int(r.hour),
                         "timezone": r.timezone, "period": period,
                         "state": now_row.status if now_row is not None else "due",
                         "attempts": int(now_row.attempts) if now_row is not None else 0,
                         "error": now_row.error if now_row is not None else None,
                         "last_sent_at": last[0].sent_at.isoformat() if last else None})
    finally:
        eng.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for d in rows:
        out.print(f"{esc(d['user'])} <{esc(d['email'])}> {d['frequency']} {d['hour']:02d}:00 {esc(d['timezone'])}: "
                  f"{d['period']} {d['state']}" + (f" ({d['attempts']} attempts: {esc(d['error'] or '')})"
                                                   if d["state"] == "failed" else "")
                  + f"; last sent {d['last_sent_at'] or 'never'}", soft_wrap=True)
    if not rows:
        out.print("no subscribers")


@digest_app.command("preview")
def digest_preview(
    name: Annotated[str, typer.Argument(help="Username.")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the plain text.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the whole message (headers, both parts).")] = False,
) -> None:
    """Print the user's next digest (as it would be sent now); sends and records nothing."""
    from papersift.notify.sender import preview

    ms = _mail_settings(require_smtp=False)
    eng = open_engine()
    try:
        u = _user(eng, name)
        msg, _picks, period = preview(eng, ms, u.id, u.username, u.email)
    finally:
        eng.close()
    if msg is None:
        out.print(f"{u.username} ({period.key}): nothing new since the last digest; none would be sent")
        return
    if raw:
        print(msg.as_string())
        return
    part = msg.get_body(preferencelist=("html",) if html else ("plain",))
    print(f"Subject: {msg['Subject']}\nTo: {msg['To']}\n")
    print(part.get_content() if part is not None else "")


@digest_app.command("settings")
def digest_settings(
    name: Annotated[str, typer.Argument(help="Username.")],
    on: Annotated[bool | None, typer.Option("--on/--off", help="Turn the digest on or off.")] = None,
    frequency: Annotated[str | None, typer.Option("--frequency", help="daily or weekly (Mondays).")] = None,
    hour: Annotated[int | None, typer.Option("--hour", help="Local hour it is due from (0-23).")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="IANA time zone, e.g. Europe/Berlin.")] = None,
    max_papers: Annotated[int | None, typer.Option("--max", help="Papers per digest (1-50).")] = None,
    trending: Annotated[bool | None, typer.Option("--trending/--no-trending",
                                                  help="Include trending papers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Show or change a user's digest settings."""
    from papersift.accounts import AccountError
    from papersift.notify.prefs import get_prefs, update_prefs

    eng = open_engine()
    try:
        u = _user(eng, name)
        changes = {"enabled": on, "frequency": frequency, "hour": hour, "timezone": tz,
                   "max_papers": max_papers, "include_trending": trending}
        try:
            prefs = (update_prefs(eng.db, u.id, **changes) if any(v is not None for v in changes.values())
                     else get_prefs(eng.db, u.id))
        except AccountError as e:
            err.print(f"[red]error:[/] {esc(str(e))}")
            raise typer.Exit(1) from None
    finally:
        eng.close()
    data = {"user": u.username, "email": u.email, **prefs.__dict__}
    data["unsubscribed_at"] = prefs.unsubscribed_at.isoformat() if prefs.unsubscribed_at else None
    if as_json:
        out.print_json(json.dumps(data))
        return
    state_word = "on" if prefs.enabled else ("off (unsubscribed by link)" if prefs.unsubscribed_at else "off")
    out.print(f"{u.username} <{u.email or 'no e-mail address'}>: digest {state_word}, {prefs.frequency} from "
              f"{prefs.hour:02d}:00 {prefs.timezone}, at most {prefs.max_papers} papers, trending "
              f"{'included' if prefs.include_trending else 'left out'}", soft_wrap=True)
    if prefs.enabled and not u.email:
        err.print("note: no e-mail address: set one with `papersift user email NAME ADDR`")


@digest_app.command("feed")
def digest_feed(
    name: Annotated[str, typer.Argument(help="Username.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the private feed URL.")] = False,
) -> None:
    """Create (or replace) the user's private Atom feed URL, or revoke it."""
    from papersift.notify.prefs import create_feed_token, revoke_feed_token

    eng = open_engine()
    try:
        u = _user(eng, name)
        if revoke:
            revoke_feed_token(eng.db, u.id)
            out.print(f"{u.username}: private feed revoked")
            return
        token = create_feed_token(eng.db, u.id)
    finally:
        eng.close()
    base = (state.settings.base_url or "http://127.0.0.1:8000").rstrip("/")
    out.print(f"{base}/feeds/private/{token}.atom", soft_wrap=True)
    err.print("shown once: only its hash is stored; `--revoke` turns it off, running this again replaces it")


app.add_typer(digest_app, name="digest")
