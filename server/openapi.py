"""The API's description: each view declares itself, the document is generated from the app.

A view carries its own small declaration (``@describe(summary, response=..., body=...,
scope=...)``, next to the route); ``document(app)`` walks the registered routes
(``app.url_map``) and builds the OpenAPI 3.1 document from the declarations, the path
converters, the action a view requires (``server.auth.require`` marks its wrapper) and the
problem+json errors every operation can answer (server.errors). A route without a
declaration is simply absent, and the route-coverage test names it.

Documented: every ``/api/v1`` route, the tile files (``/tiles``) and OGC API Features
(``/ogc``, which keeps its own standard paths). Not documented: the viewer's static files
and the deprecated unversioned aliases (server.versioning).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from server.app_scopes import APP_SCOPES, SCOPE_ACTIONS
from server.errors import PROBLEM_TYPE

V1 = "/api/v1/"
API_VERSION = "1.0.0"
#: Rules described in the document: the versioned API, the tiles and OGC API Features.
DOCUMENTED_PREFIXES = (V1, "/tiles/", "/ogc")
CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}


@dataclass(frozen=True)
class ApiDoc:
    """What a view declares about itself for the document."""
    summary: str
    tag: str
    response: dict | None = None
    status: int = 200
    body: dict | None = None
    body_type: str = "application/json"
    media: str = "application/json"
    query: dict = field(default_factory=dict)
    scope: str | None = None
    errors: tuple[int, ...] = ()
    action: str | None = None  # when the view decides it at run time (not @require)


def describe(summary: str, *, tag: str, response: dict | None = None, status: int = 200,
             body: dict | None = None, body_type: str = "application/json",
             media: str = "application/json", query: dict | None = None,
             scope: str | None = None, errors: tuple[int, ...] = (),
             action: str | None = None):
    """Decorator: declare a view's summary, schemas and app scope (``scope`` is the app
    scope a read needs; actions come from ``@require``)."""
    if scope is not None and scope not in APP_SCOPES:
        raise ValueError(f"unknown app scope {scope!r}; one of {', '.join(APP_SCOPES)}")
    doc = ApiDoc(summary, tag, response, status, body, body_type, media, query or {},
                 scope, errors, action)

    def decorate(view):
        view.cimtwin_api = doc
        return view
    return decorate


def view_doc(view) -> ApiDoc | None:
    return getattr(view, "cimtwin_api", None)


def is_documented_rule(rule: str) -> bool:
    return rule.startswith(DOCUMENTED_PREFIXES)


def openapi_path(rule) -> tuple[str, list[dict]]:
    """A werkzeug rule as an OpenAPI path template and its path parameters."""
    params = []
    for converter, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", rule.rule):
        schema = dict(CONVERTER_TYPES.get(converter or "", {"type": "string"}))
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule), params


def problem_schema() -> dict:
    return {"type": "object", "required": ["type", "title", "status"],
            "description": "RFC 9457 problem details",
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer"}, "detail": {"type": "string"},
                           "field": {"type": "string"}, "index": {"type": "integer"}}}


ERROR_TEXT = {400: "the request is not valid (the detail says what to change)",
              401: "sign-in or a token is required", 403: "the credentials lack the action",
              404: "not found, or hidden from the caller", 409: "conflicts with the state",
              413: "the body is too large", 429: "too many requests; wait and retry",
              503: "not available now; retry later"}


def _responses(doc: ApiDoc, action: str | None) -> dict:
    ok = {"description": "success"}
    if doc.status != 204:
        ok["content"] = {doc.media: {"schema": doc.response or {}}}
    responses = {str(doc.status): ok}
    codes = {400, 404, 429, *doc.errors}
    if action or doc.scope:
        codes |= {401, 403}
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/Problem{code}"}
    return responses


def _security(doc: ApiDoc, action: str | None) -> list[dict]:
    scopes = [doc.scope] if doc.scope else [s for s, a in SCOPE_ACTIONS.items()
                                             if action in a]
    requirements = [{"oauth2": scopes}] if scopes or not action else []
    if action:
        return [{"sessionCookie": []}, {"bearerToken": []}, *requirements]
    return [{}, {"sessionCookie": []}, {"bearerToken": []}, *requirements]


def operation(rule, method: str, view, doc: ApiDoc) -> dict:
    """The OpenAPI operation of one route and method."""
    action = getattr(view, "cimtwin_action", None) or doc.action
    _, params = openapi_path(rule)
    params += [{"name": name, "in": "query", "required": False,
                "schema": {"type": "string"}, "description": text}
               for name, text in doc.query.items()]
    op = {"operationId": f"{method.lower()}_{rule.endpoint.replace('.', '_')}",
          "summary": doc.summary, "tags": [doc.tag], "responses": _responses(doc, action),
          "security": _security(doc, action)}
    if action:
        op["x-cimtwin-action"] = action
    if doc.scope:
        op["x-cimtwin-scope"] = doc.scope
    if params:
        op["parameters"] = params
    if method in ("POST", "PUT", "PATCH") and doc.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {doc.body_type: {"schema": doc.body}}}
    return op


def components() -> dict:
    responses = {f"Problem{code}": {"description": text, "content": {
        PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for code, text in ERROR_TEXT.items()}
    return {
        "schemas": {"Problem": problem_schema()},
        "responses": responses,
        "securitySchemes": {
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "cimtwin_session",
                              "description": "POST /api/v1/login; writes also send the "
                                             "X-CSRF-Token header from the login answer"},
            "bearerToken": {"type": "http", "scheme": "bearer",
                            "description": "a user's machine token (ct_...)"},
            "oauth2": {"type": "oauth2", "description": "registered applications",
                       "flows": {"clientCredentials": {"tokenUrl": "/api/v1/oauth/token",
                                                       "scopes": dict(APP_SCOPES)}}},
        },
    }


def document(app) -> dict:
    """The OpenAPI 3.1 document of ``app``'s declared routes."""
    paths: dict[str, dict] = {}
    used_ids: set[str] = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        doc = view_doc(view)
        if doc is None or not is_documented_rule(rule.rule):
            continue
        path, _ = openapi_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = operation(rule, method, view, doc)
            while op["operationId"] in used_ids:  # one view on two rules (/ogc and /ogc/)
                op["operationId"] += "_"
            used_ids.add(op["operationId"])
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "cimtwin API", "version": API_VERSION,
                 "description": "The district CIM platform's interfaces: tilesets and tiles, "
                                "BIM, layers (OGC API Features), live metrics and alarms, "
                                "imports, app credentials and event subscriptions. Errors "
                                "are RFC 9457 problem+json. Unversioned /api/... paths are "
                                "deprecated aliases of /api/v1/... (see docs/api.md)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components(),
    }
