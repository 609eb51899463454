"""Accounts and community actions: the rules (validation, hashing, rate limits, tokens); the SQL
is in store/users.py and store/community.py.

``users``: credentials, argon2id passwords, login rate limit. ``sessions``: browser sessions with
their CSRF tokens, API tokens, the signing key. ``community``: votes and daily-feed submissions.
"""

from papersift.accounts.community import has_voted, parse_paper_ref, set_vote, submit_paper, voted_pks
from papersift.accounts.sessions import (
    SESSION_TTL,
    TOKEN_PREFIX,
    Session,
    create_api_token,
    create_session,
    end_session,
    get_session,
    list_api_tokens,
    revoke_api_token,
    secret_key,
    user_for_api_token,
)
from papersift.accounts.users import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    MAX_PASSWORD,
    MIN_PASSWORD,
    AccountError,
    RateLimited,
    User,
    authenticate,
    create_user,
    get_user,
    list_users,
    normalize_email,
    now,
    same,
    set_admin,
    set_email,
    set_password,
    sha256,
)

__all__ = [
    "FAILURE_WINDOW", "MAX_FAILURES", "MAX_PASSWORD", "MIN_PASSWORD", "SESSION_TTL", "TOKEN_PREFIX",
    "AccountError", "RateLimited", "Session", "User", "authenticate", "create_api_token", "create_session",
    "create_user", "end_session", "get_session", "get_user", "has_voted", "list_api_tokens", "list_users",
    "normalize_email", "now", "parse_paper_ref", "revoke_api_token", "same", "secret_key", "set_admin",
    "set_email", "set_password", "set_vote", "sha256", "submit_paper", "user_for_api_token", "voted_pks",
]
