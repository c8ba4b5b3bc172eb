"""Request limits, rate limits, security headers and the start-up refusal of demo tokens.

``install(app)`` wires them into an app (called by ``server.app.create_app``):
- bodies past ``limits.max_request_mib`` get 413 with what to do instead;
- rate limits (the ``limits`` library): ``auth.login_rate`` on POST /api/login and
  ``auth.write_rate`` on every write, per client address, 429 past them;
  ``auth.failed_auth_limit`` counts failed sign-ins and refused tokens per address, and
  past it every request that presents credentials gets 429 (guessing tokens or
  passwords is slow);
- CSRF: a write made with the session cookie must send the session's ``X-CSRF-Token``;
- headers on every response: a Content-Security-Policy that lets the self-hosted CesiumJS
  run (its workers, blob: URLs and WebAssembly) and nothing from elsewhere,
  X-Content-Type-Options, frame-ancestors/X-Frame-Options, Referrer-Policy.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from server.auth import current_principal
from server.config import PROJECT_ROOT
from server.errors import problem
from server.sessions import COOKIE, CSRF_HEADER

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEMO_TOKENS = frozenset({"demo-admin-token", "demo-ingest-token"})
MIB = 1 << 20


class FailureLimiter:
    """Failed sign-ins and refused credentials per client address (moving window)."""

    def __init__(self, rate: str):
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.window_s = self.item.get_expiry()
        self.last_failure: dict[str, float] = {}  # so clean addresses cost one dict lookup

    def blocked(self, address: str) -> bool:
        last = self.last_failure.get(address)
        if last is None or time.monotonic() - last > self.window_s:
            return False
        return not self.limiter.test(self.item, "fail", address)

    def fail(self, address: str) -> None:
        if len(self.last_failure) > 100_000:
            self.last_failure.clear()
        self.last_failure[address] = time.monotonic()
        self.limiter.hit(self.item, "fail", address)


def failures() -> FailureLimiter:
    return current_app.extensions["cimtwin.failures"]


def client_address() -> str:
    return request.remote_addr or "unknown"


def _presents_credentials() -> bool:
    return bool(request.headers.get("Authorization") or request.headers.get("X-Cimtwin-Token")
                or request.cookies.get(COOKIE) or request.args.get("share")
                or request.headers.get("X-Cimtwin-Share"))


def _too_many():
    response = problem(429, "Too Many Requests",
                       "too many failed sign-ins or wrong tokens from this address; "
                       "wait a minute and try again")
    response.headers["Retry-After"] = "60"
    return response


def _check_request():
    """Before each request: rate limits, the failure limit, refused credentials, CSRF."""
    if request.method not in SAFE_METHODS and \
            not current_app.extensions["cimtwin.rates"].allow():
        return _rate_limited()
    if _presents_credentials() and failures().blocked(client_address()):
        return _too_many()
    principal = current_principal()
    if principal.failed:
        failures().fail(client_address())
    if principal.via == "session" and request.method not in SAFE_METHODS \
            and request.endpoint != "auth_api.login":
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != principal.csrf:
            return problem(403, "CSRF token missing or wrong",
                           f"a write made with the session cookie needs the {CSRF_HEADER} "
                           "header from the login answer (or GET /api/me)")
    return None


def inline_script_hashes(html: str) -> list[str]:
    """CSP hashes of the inline <script> blocks of a page (so they may run, nothing else)."""
    blocks = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
    return ["'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
            for b in blocks if b.strip()]


def content_security_policy(index_html: str, imagery_url: str = "") -> str:
    """The CSP: self-hosted only; CesiumJS needs blob: workers, wasm, data:/blob: images."""
    extra = ""
    if imagery_url:
        parts = urlsplit(imagery_url.replace("{", "").replace("}", ""))
        if parts.scheme and parts.netloc:
            extra = f" {parts.scheme}://{parts.netloc}"
    # CesiumJS's combined build needs 'unsafe-eval' (its widgets' Knockout bindings compile
    # with new Function), blob: and 'wasm-unsafe-eval' (workers and their WebAssembly);
    # inline scripts only by hash, and nothing from any other origin.
    scripts = " ".join(["'self'", "blob:", "'unsafe-eval'", "'wasm-unsafe-eval'",
                        *inline_script_hashes(index_html)])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        f"img-src 'self' data: blob:{extra}",
        f"connect-src 'self' data: blob:{extra}",
        "style-src 'self' 'unsafe-inline'",  # Cesium widgets set inline styles
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def _headers(csp: str):
    page_headers = (("Content-Security-Policy", csp), ("X-Frame-Options", "SAMEORIGIN"),
                    ("Cross-Origin-Opener-Policy", "same-origin"))

    def add(response):
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"  # share links stay private
        if response.mimetype == "text/html":  # the policies that govern a page
            for name, value in page_headers:
                headers.setdefault(name, value)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if g.get("cimtwin_clear_cookie"):
            response.delete_cookie(COOKIE, path="/", samesite="Strict", httponly=True)
        return response
    return add


def _scrub_text(text: str, paths: list[str]) -> str:
    text = text.split("\nTraceback (most recent call last)")[0]
    for path, label in zip(paths, ("<data>", "<app>")):
        text = text.replace(path, label)
    return text


def _scrub(value, paths: list[str]):
    if isinstance(value, str):
        return _scrub_text(value, paths)
    if isinstance(value, list):
        return [_scrub(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, paths) for k, v in value.items()}
    return value


def _no_paths(paths: list[str]):
    """After each error or job answer: no server paths, no stack traces in the body."""
    def scrub(response):
        scrubbed = response.status_code >= 400 or \
            request.path.startswith(("/api/jobs", "/api/v1/jobs"))
        if not scrubbed or not response.is_json or response.direct_passthrough:
            return response
        body = response.get_json(silent=True)
        if body is not None:
            response.set_data(json.dumps(_scrub(body, paths), ensure_ascii=False))
        return response
    return scrub


class RateLimits:
    """``auth.login_rate`` on POST /api/login and ``auth.write_rate`` on every other write,
    per endpoint and client address (the ``limits`` library, fixed windows in memory)."""

    def __init__(self, auth_cfg: dict):
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import FixedWindowRateLimiter
        self.login, self.write = parse(auth_cfg["login_rate"]), parse(auth_cfg["write_rate"])
        self.limiter = FixedWindowRateLimiter(MemoryStorage())

    def allow(self) -> bool:
        """Count this write; False when it is past its limit."""
        item = self.login if request.endpoint == "auth_api.login" else self.write
        return self.limiter.hit(item, "write", request.endpoint or request.path,
                                client_address())


def _rate_limited():
    response = problem(429, "Too Many Requests", "rate limit reached for this address "
                       "(auth.write_rate / auth.login_rate); wait and try again")
    response.headers["Retry-After"] = "60"
    return response


def install(app: Flask) -> None:
    """Limits, rate limits, CSRF and security headers for ``app`` (see module docstring)."""
    from server.web import VIEWER_DIR
    config = app.extensions["cimtwin"].config
    limits = config["limits"]
    app.config["MAX_CONTENT_LENGTH"] = limits["max_request_mib"] * MIB
    app.extensions["cimtwin.failures"] = FailureLimiter(config["auth"]["failed_auth_limit"])
    app.extensions["cimtwin.rates"] = RateLimits(config["auth"])
    app.before_request(_check_request)
    paths = [str(app.extensions["cimtwin"].data_dir), str(PROJECT_ROOT)]
    app.after_request(_no_paths(paths))
    index = VIEWER_DIR / "index.html"
    html = index.read_text(encoding="utf-8") if index.is_file() else ""
    app.after_request(_headers(content_security_policy(html, config["viewer"]["imagery_url"])))

    @app.errorhandler(413)
    def too_large(exc):
        return problem(413, "Request Entity Too Large",
                       f"the request is larger than {limits['max_request_mib']} MiB "
                       "(limits.max_request_mib); import big productions from a server "
                       "path with 'cimtwin import ...'")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_serve_tokens(host: str, env: dict) -> str | None:
    """Why the server must not start on ``host`` with these tokens, or None."""
    demo = [name for name in ("CIMTWIN_ADMIN_TOKEN", "CIMTWIN_INGEST_TOKEN")
            if env.get(name) in DEMO_TOKENS]
    weak = [name for name in ("CIMTWIN_ADMIN_TOKEN", "CIMTWIN_INGEST_TOKEN")
            if env.get(name) and len(env[name]) < 24 and name not in demo]
    if is_loopback(host) or not (demo or weak):
        return None
    return (f"refusing to serve on {host}: {', '.join(demo + weak)} "
            f"{'is a well-known demo token' if demo else 'is shorter than 24 characters'}; "
            "set a long random token (e.g. `openssl rand -hex 32`) or unset it and use "
            "user accounts (`cimtwin users add`)")
