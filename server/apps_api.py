"""Applications at the HTTP edge: the OAuth2 token endpoint, app scopes and CORS.

``POST /api/v1/oauth/token`` (grant_type=client_credentials; the client authenticates
with HTTP Basic or client_id/client_secret form fields) is authlib's RFC 6749 token
endpoint; its errors are RFC 6749 5.2 JSON (``error``, ``error_description``) with the
RFC 9457 problem members added, so both kinds of client read them. ``install(app)``:
- refuses an expired or revoked app token (401 ``invalid_token``), and (403) an app's
  call to a route whose declared read scope (``@describe(scope=)``) the app lacks;
  routes that need an action check it as for any principal;
- answers CORS for the web origins of registered apps (``cimtwin apps add --origin``).
"""
from __future__ import annotations

import secrets
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Blueprint, Flask, current_app, request

from server.api_schemas import INT, STR, obj
from server.app_scopes import APP_SCOPES
from server.apps import TOKEN_PREFIX, App
from server.auth import Principal, current_principal
from server.errors import problem
from server.openapi import describe, view_doc
from server.services import current_services

bp = Blueprint("apps_api", __name__)
TOKEN_REQUEST = obj(("grant_type",), grant_type={"const": "client_credentials"},
                    scope={"type": "string", "description": "space-separated app scopes"},
                    client_id=STR, client_secret=STR)
TOKEN_ANSWER = obj(("access_token", "token_type", "expires_in"), access_token=STR,
                   token_type={"const": "Bearer"}, expires_in=INT, scope=STR)
CORS_TTL_S = 10.0


class AppClient(ClientMixin):
    """An App as authlib's OAuth2 client."""

    def __init__(self, app: App | None, client_id: str):
        self.app, self.client_id = app, client_id

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        granted = self.app.scopes if self.app else frozenset()
        wanted = set(scope.split()) if scope else set(granted)
        return " ".join(sorted(wanted & granted))

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return current_services().security.apps.check_secret(self.app, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


class TokenServer(AuthorizationServer):
    """authlib's server whose error answers also carry the problem+json members."""

    def handle_response(self, status_code, payload, headers):
        if status_code >= 400 and isinstance(payload, dict) and "error" in payload:
            payload = {"type": "about:blank", "title": payload["error"], "status": status_code,
                       "detail": payload.get("error_description") or payload["error"]} | payload
        return super().handle_response(status_code, payload, headers)


class AppCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials with the secret in HTTP Basic or in the form (RFC 6749 2.3.1)."""
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str):
    """The active app (or a stand-in that fails the secret check in the same time)."""
    app = current_services().security.apps.active(client_id)
    return AppClient(app, client_id or "")


def _save_token(token: dict, oauth_request) -> None:
    client = oauth_request.client
    if client.app is None:
        return
    current_services().security.apps.save_token(
        client.app, token["access_token"], (token.get("scope") or "").split(),
        int(token["expires_in"]))


def _token_secret(client, grant_type, user, scope) -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _bearer_value() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def token_server(app: Flask) -> TokenServer:
    seconds = int(app.extensions["cimtwin"].config["apps"]["token_seconds"])
    app.config.update(OAUTH2_ACCESS_TOKEN_GENERATOR=_token_secret,
                      OAUTH2_TOKEN_EXPIRES_IN={"client_credentials": seconds},
                      OAUTH2_SCOPES_SUPPORTED=list(APP_SCOPES))
    server = TokenServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(AppCredentialsGrant)
    return server


@bp.post("/api/v1/oauth/token")
@describe("An app's access token (OAuth2 client credentials, RFC 6749 4.4)", tag="apps",
          body=TOKEN_REQUEST, body_type="application/x-www-form-urlencoded",
          response=TOKEN_ANSWER, errors=(401,))
def oauth_token():
    from server.audit_http import record
    response = current_app.extensions["cimtwin.oauth"].create_token_response()
    client_id = request.authorization.username if request.authorization else \
        request.form.get("client_id", "")
    app = current_services().security.apps.active(client_id or "")
    name = f"app:{app.name}" if app else f"client:{client_id or '?'}"
    outcome = "ok" if response.status_code == 200 else "failed"
    if response.status_code == 401:  # a wrong client secret counts as a failed sign-in
        from server.hardening import client_address, failures
        failures().fail(client_address())
    record("oauth.token", name, outcome, {"status": response.status_code},
           principal=Principal(name, None, "app", frozenset(), frozenset()))
    return response


def _app_refusal():
    """Before each request: an expired or revoked app token is refused (401, RFC 6750
    invalid_token: the app asks for a new one), and an app may call a route only with
    the route's read scope (403)."""
    principal = current_principal()
    if principal.failed and _bearer_value().startswith(TOKEN_PREFIX):
        response = problem(401, "Token expired or revoked", "get a new token: POST "
                           "/api/v1/oauth/token (client credentials)")
        response.headers["WWW-Authenticate"] = \
            'Bearer realm="cimtwin", error="invalid_token"'
        return response
    if principal.via != "app":
        return None
    doc = view_doc(current_app.view_functions.get(request.endpoint or ""))
    if doc is None or doc.scope is None or doc.scope in principal.scopes:
        return None
    return problem(403, "Forbidden", f"{principal.name} lacks scope {doc.scope}; a data-admin "
                   "adds it with 'cimtwin apps add' (a new registration)")


class CorsOrigins:
    """The registered apps' origins, re-read at most every CORS_TTL_S seconds."""

    def __init__(self):
        self.origins, self.read_at = frozenset(), -CORS_TTL_S

    def get(self) -> frozenset[str]:
        if time.monotonic() - self.read_at > CORS_TTL_S:
            self.origins = current_services().security.apps.origins()
            self.read_at = time.monotonic()
        return self.origins


def _cors(response):
    origins = current_app.extensions["cimtwin.cors"].get()
    if origins:
        # The answer depends on Origin once any app origin is registered: a cache (the
        # browser's included) must not hand an answer without CORS headers to another origin.
        response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin in origins:
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Last-Event-ID"
        headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        headers["Access-Control-Expose-Headers"] = "Location, ETag, Deprecation, Link"
        headers["Access-Control-Max-Age"] = "600"
    return response


def install(app: Flask) -> None:
    app.extensions["cimtwin.oauth"] = token_server(app)
    app.extensions["cimtwin.cors"] = CorsOrigins()
    app.before_request(_app_refusal)
    app.after_request(_cors)
