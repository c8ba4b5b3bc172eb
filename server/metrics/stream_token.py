"""Short-lived signed tokens for the live stream (EventSource cannot send headers).

A token carries the classification levels its holder may see and an expiry, signed with
HMAC-SHA256. The key comes from ``CIMTWIN_STREAM_SECRET``, else is derived from
``CIMTWIN_ADMIN_TOKEN``; with neither, each process makes a random one (then tokens only
work on the worker that issued them: set the secret when running several workers).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from server.metrics.errors import MetricError

TTL_S = 300
_RANDOM = secrets.token_bytes(32)


class TokenRefused(MetricError):
    status = 401


def _key() -> bytes:
    secret = os.environ.get("CIMTWIN_STREAM_SECRET")
    if secret:
        return secret.encode()
    admin = os.environ.get("CIMTWIN_ADMIN_TOKEN")
    if admin:
        return hashlib.sha256(b"cimtwin-stream:" + admin.encode()).digest()
    return _RANDOM


def _sign(body: str) -> str:
    mac = hmac.new(_key(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def issue(levels: set[str], now_s: float, ttl_s: int = TTL_S) -> tuple[str, int]:
    """(token, expiry in epoch seconds)."""
    expires = int(now_s) + ttl_s
    body = f"{expires}.{'-'.join(sorted(levels))}"
    return f"{body}.{_sign(body)}", expires


def verify(token: str, now_s: float) -> set[str]:
    """The levels of a valid token; TokenRefused (401) when forged or expired."""
    body, _, mac = token.rpartition(".")
    expires, _, levels = body.partition(".")
    if not body or not hmac.compare_digest(mac, _sign(body)) or not expires.isdigit():
        raise TokenRefused("the stream token is not valid; get a new one from "
                           "POST /api/metrics/stream-token", field="token")
    if int(expires) < now_s:
        raise TokenRefused("the stream token has expired; get a new one from "
                           "POST /api/metrics/stream-token", field="token")
    return set(levels.split("-")) if levels else set()
