"""The versioned API and its description: /api/v1/openapi.json is generated from the
registered routes, every route is in it (and nothing else), it is a valid OpenAPI 3.1
document, and the unversioned paths answer as deprecated aliases."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from server.app import create_app
from server.openapi import is_documented_rule
from server.versioning import is_legacy

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app({"data": {"dir": str(tmp_path_factory.mktemp("openapi"))}})


@pytest.fixture(scope="module")
def doc(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def template(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def registered(app) -> set[tuple[str, str]]:
    """(method, path template) of every route that must be described."""
    return {(m.lower(), template(r.rule)) for r in app.url_map.iter_rules()
            if is_documented_rule(r.rule) for m in r.methods - SKIPPED_METHODS}


def test_every_route_is_documented_and_every_documented_route_exists(app, doc):
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert sorted(registered(app) - documented) == [], "add @describe(...) to these views"
    assert sorted(documented - registered(app)) == [], "documented but not registered"


def test_every_json_endpoint_is_versioned(app):
    unversioned = sorted(r.rule for r in app.url_map.iter_rules()
                         if r.rule.startswith("/api/") and not r.rule.startswith("/api/v1/")
                         and not any(v.rule == "/api/v1/" + r.rule[5:] and
                                     v.endpoint == r.endpoint
                                     for v in app.url_map.iter_rules()))
    assert unversioned == []
    assert any(is_legacy(r.rule) for r in app.url_map.iter_rules())


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_operations_declare_problem_errors_and_auth(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["bearerToken"]["scheme"] == "bearer"
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/api/v1/oauth/token"
    imports = doc["paths"]["/api/v1/imports/{kind}"]["post"]
    assert imports["x-cimtwin-action"] == "import"
    assert imports["responses"]["403"] == {"$ref": "#/components/responses/Problem403"}
    assert {"oauth2": ["import"]} in imports["security"]
    problem = doc["components"]["responses"]["Problem404"]["content"]
    assert list(problem) == ["application/problem+json"]
    tiles = doc["paths"]["/api/v1/tilesets"]["get"]
    assert tiles["x-cimtwin-scope"] == "read:tiles"
    assert tiles["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_a_documented_error_is_the_problem_the_server_sends(app, doc):
    response = app.test_client().get("/api/v1/tilesets/none-such")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert set(doc["components"]["schemas"]["Problem"]["required"]) <= set(response.get_json())


def test_unversioned_paths_are_deprecated_aliases(app):
    client = app.test_client()
    old, new = client.get("/api/tilesets"), client.get("/api/v1/tilesets")
    assert old.status_code == new.status_code == 200 and old.get_json() == new.get_json()
    assert old.headers["Deprecation"] == "true"
    assert old.headers["Link"] == '</api/v1/tilesets>; rel="successor-version"'
    assert "Deprecation" not in new.headers
    refused = client.post("/api/metrics", json={})
    assert refused.status_code == 401 and refused.headers["Deprecation"] == "true"


def swagger_dir(app) -> Path:
    from server.config import PROJECT_ROOT
    path = Path(app.extensions["cimtwin"].config["api"]["docs_dir"])
    path = path if path.is_absolute() else PROJECT_ROOT / path
    if not (path / "swagger-ui-bundle.js").is_file():
        message = f"swagger-ui-dist missing at {path} (npm install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_the_reference_page_is_served_offline(app):
    swagger_dir(app)
    client = app.test_client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    scripts = re.findall(r'<script src="([^"]+)"', page.get_data(as_text=True))
    assert scripts and all(s.startswith("/api/v1/docs/") for s in scripts)  # nothing remote
    for src in scripts:
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.data) > 0
    bundle = client.get("/api/v1/docs/swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle
    assert "/api/v1/openapi.json" in client.get("/api/v1/docs/init.js").get_data(as_text=True)
    assert client.get("/api/v1/docs/package.json").status_code == 404
