"""Masking credentials in URLs before they are logged, printed or stored as MLflow parameters.

A database or server URL can carry a secret in two places: the userinfo
(`postgresql://writer:secret@host/db`) and the query string
(`postgresql://writer@host/db?password=secret`, `https://host/x?token=...`). Both are
replaced by `***`. An environment reference such as `${DB_PASSWORD}` is not a secret and is
shown as written, so a job spec still says where its secret comes from.
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_QUERY_KEYS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "access_token",
    "auth_token",
    "api_key",
    "apikey",
    "key",
    "sslpassword",
    "client_secret",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
)

ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
"""A reference `${NAME}` to the environment variable `NAME` (substituted by the job runner, never masked)."""
_USERINFO_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)(?P<secret>[^\s@/?#]*)(?P<tail>@)")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:" + "|".join(re.escape(key) for key in SECRET_QUERY_KEYS) + r")=)(?P<secret>[^&;#\s'\"]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every password in a URL's userinfo and every secret query parameter masked."""

    def hide(match: re.Match) -> str:
        secret = match["secret"]
        if not secret or ENV_REFERENCE.fullmatch(secret):
            return match.group(0)
        return f"{match['head']}{MASK}{match.groupdict().get('tail') or ''}"

    return _QUERY_SECRET.sub(hide, _USERINFO_PASSWORD.sub(hide, text))
