"""Digest rules without a server: mail settings from the environment, which SMTP failures are
transient, e-mail address validation, digest preference validation."""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

import pytest

from papersift.accounts import AccountError, normalize_email
from papersift.config import Settings
from papersift.notify.mail import MailSettings, transient
from papersift.notify.prefs import DigestPrefs, validate


def smtp_settings(tmp_path: Path, **kw: object) -> Settings:
    s = Settings(data_dir=tmp_path)
    s.smtp_host, s.base_url, s.smtp_security, s.smtp_port = "mail.example.org", "https://p.example.org/", "ssl", None
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_mail_settings_defaults_and_clear_errors(tmp_path: Path) -> None:
    ms = MailSettings.from_settings(smtp_settings(tmp_path), "secret")
    assert (ms.port, ms.base_url, ms.mail_from) == (465, "https://p.example.org", "papersift <papersift@p.example.org>")
    assert MailSettings.from_settings(smtp_settings(tmp_path, smtp_security="starttls"), "s").port == 587
    with pytest.raises(ValueError, match="PAPERSIFT_SMTP_SECURITY"):
        MailSettings.from_settings(smtp_settings(tmp_path, smtp_security="tls"), "s")
    with pytest.raises(ValueError, match="PAPERSIFT_SMTP_HOST"):
        MailSettings.from_settings(smtp_settings(tmp_path, smtp_host=None), "s")
    with pytest.raises(ValueError, match="PAPERSIFT_BASE_URL"):
        MailSettings.from_settings(smtp_settings(tmp_path, base_url=None), "s")
    with pytest.raises(ValueError, match="PAPERSIFT_BASE_URL"):
        MailSettings.from_settings(smtp_settings(tmp_path, base_url="ftp://x"), "s")
    with pytest.raises(ValueError, match="PAPERSIFT_MAIL_FROM"):
        MailSettings.from_settings(smtp_settings(tmp_path, mail_from="me\r\nBcc: x@y.z"), "s")
    assert MailSettings.from_settings(smtp_settings(tmp_path, smtp_host=None, base_url=None), "s",
                                      require_smtp=False).base_url == "http://127.0.0.1:8000"


def test_which_smtp_failures_are_retried() -> None:
    assert transient(ConnectionRefusedError())
    assert transient(smtplib.SMTPServerDisconnected("gone"))
    assert transient(TimeoutError())
    assert transient(smtplib.SMTPDataError(451, b"later"))
    assert transient(smtplib.SMTPRecipientsRefused({"a@b.c": (450, b"busy")}))
    assert not transient(smtplib.SMTPDataError(554, b"no"))
    assert not transient(smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"unknown")}))
    assert not transient(smtplib.SMTPAuthenticationError(535, b"bad credentials"))
    assert not transient(ssl.SSLCertVerificationError("bad cert"))
    assert not transient(ValueError("a bug"))


@pytest.mark.parametrize(("given", "stored"), [
    ("Ada@Example.ORG", "ada@example.org"), (" a.b+tag@sub.example.co.uk ", "a.b+tag@sub.example.co.uk"),
    ("x@bücher.de", "x@xn--bcher-kva.de"), ("", None), ("   ", None)])
def test_valid_addresses(given: str, stored: str | None) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize("bad", ["ada", "ada@", "@example.org", "a@b", "a b@example.org", "a@@example.org",
                                 ".a@example.org", "a..b@example.org", "a@-x.org", "a@x.123",
                                 "a@example.org\r\nBcc: evil@example.org", "a" * 65 + "@example.org",
                                 "ä@example.org"])
def test_invalid_addresses(bad: str) -> None:
    with pytest.raises(AccountError, match="not an e-mail address"):
        normalize_email(bad)


@pytest.mark.parametrize(("change", "message"), [
    ({"frequency": "hourly"}, "daily or weekly"), ({"hour": 24}, "0 to 23"), ({"hour": -1}, "0 to 23"),
    ({"timezone": "Europe/Atlantis"}, "Unknown time zone"), ({"timezone": "../../etc/passwd"}, "Unknown time zone"),
    ({"max_papers": 0}, "1 to 50"), ({"max_papers": 51}, "1 to 50")])
def test_invalid_preferences(change: dict[str, object], message: str) -> None:
    prefs = DigestPrefs(enabled=True)
    for k, v in change.items():
        setattr(prefs, k, v)
    with pytest.raises(AccountError, match=message):
        validate(prefs)
    assert validate(DigestPrefs(timezone="America/Argentina/Buenos_Aires", hour=23, max_papers=50))
