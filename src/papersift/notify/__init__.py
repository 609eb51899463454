"""The e-mail digest: schedule (which period is due), compose (pure: picks -> EmailMessage), SMTP
delivery with retries, the exactly-once sender, the worker job (docs/digest.md)."""
