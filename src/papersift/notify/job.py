"""The worker's ``digest`` job: every PAPERSIFT_DIGEST_EVERY seconds (300), send the due digests.
Registered only when an SMTP server is configured (PAPERSIFT_SMTP_HOST)."""

from __future__ import annotations

from papersift.accounts import secret_key
from papersift.config import _env_float
from papersift.jobs.registry import Job, JobContext, Result, register
from papersift.notify.mail import MailSettings
from papersift.notify.sender import send_due


def run_digest(ctx: JobContext) -> Result:
    ms = MailSettings.from_settings(ctx.settings, secret_key(ctx.settings.data_dir, ctx.settings.secret_key))
    outcomes = send_due(ctx.engine, ms, ctx.settings.digest_lease, ctx.worker, should_stop=ctx.should_stop)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    if not outcomes:
        return Result("no digest due", worked=False)
    detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if counts.get("failed"):
        raise RuntimeError(f"digests: {detail} (see the log; failed ones are retried later)")
    return Result(f"digests: {detail}")


register(Job("digest", _env_float("PAPERSIFT_DIGEST_EVERY", 300.0), run_digest,
             description="e-mail the due digests (claimed per user and period: exactly once)",
             enabled=lambda s: bool(s.smtp_host)))
