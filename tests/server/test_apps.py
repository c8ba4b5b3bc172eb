"""Registered applications: client credentials -> short-lived tokens; scopes and levels
limit what an app may read and do; every call is audited under the app's name."""
from __future__ import annotations

import base64
import json

import pytest

from server.app import create_app
from server.cli import main as cli
from server.users import AccountError
from tiles.store import write_tileset

TILESET = {"asset": {"version": "1.1"}, "geometricError": 1,
           "root": {"boundingVolume": {"sphere": [0, 0, 0, 1]}, "geometricError": 0}}


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """argon2 at its lowest cost: these tests are about apps, not about hash strength."""
    from argon2 import PasswordHasher
    monkeypatch.setattr("server.apps._HASHER",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMTWIN_DATA_DIR", str(tmp_path))
    app = create_app({"data": {"dir": str(tmp_path)}})
    services = app.extensions["cimtwin"]
    for level in ("public", "internal", "restricted"):
        write_tileset(services.store, f"t-{level}",
                      {"tileset.json": json.dumps(TILESET).encode()})
        services.catalog.add({"id": f"t-{level}", "name": level, "kind": "mesh",
                              "classification": level})
    return app


def register(capsys, *args) -> dict:
    assert cli(["apps", "add", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def token(client, app_info: dict, scope: str | None = None, basic: bool = True):
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    headers = {}
    if basic:
        pair = f"{app_info['client_id']}:{app_info['client_secret']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form |= {"client_id": app_info["client_id"],
                 "client_secret": app_info["client_secret"]}
    return client.post("/api/v1/oauth/token", data=form, headers=headers)


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_the_cli_registers_an_app_and_stores_only_a_hash(app, capsys):
    info = register(capsys, "dust-monitor", "--scopes", "read:layers,read:tiles,write:metrics",
                    "--level", "internal", "--origin", "https://dust.example.gov.cn")
    assert info["client_id"].startswith("app_") and info["client_secret"].startswith("cts_")
    assert info["scopes"] == ["read:layers", "read:tiles", "write:metrics"]
    db = app.extensions["cimtwin"].security.db.connect()
    stored = [r[0] for r in db.execute("SELECT secret FROM apps")]
    assert len(stored) == 1 and stored[0].startswith("$argon2id$")
    assert info["client_secret"] not in stored[0]
    assert cli(["apps", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in listed] == ["dust-monitor"] and "client_secret" not in listed[0]
    with pytest.raises(AccountError):
        app.extensions["cimtwin"].security.apps.add("bad", ["read:everything"])


def test_a_read_layers_token_cannot_import_nor_read_restricted_data(app, capsys):
    info = register(capsys, "reader", "--scopes", "read:layers,read:tiles", "--level",
                    "internal")
    client = app.test_client()
    answer = token(client, info, basic=False)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 900
    assert set(body["scope"].split()) == {"read:layers", "read:tiles"}
    auth = bearer(body["access_token"])
    seen = [t["id"] for t in client.get("/api/v1/tilesets", headers=auth).get_json()]
    assert sorted(seen) == ["t-internal", "t-public"]
    assert client.get("/api/v1/tilesets/t-restricted", headers=auth).status_code == 404
    assert client.get("/tiles/t-restricted/tileset.json", headers=auth).status_code == 404
    assert client.get("/tiles/t-internal/tileset.json", headers=auth).status_code == 200
    refused = client.post("/api/v1/imports/bim", headers=auth, data={},
                          content_type="multipart/form-data")
    assert refused.status_code == 403
    assert client.get("/api/v1/jobs", headers=auth).status_code == 403
    me = client.get("/api/v1/me", headers=auth).get_json()
    assert me["name"] == "app:reader" and me["via"] == "app" and me["actions"] == []


def test_a_read_scope_limits_the_routes_and_write_scopes_give_actions(app, capsys):
    info = register(capsys, "gateway", "--scopes", "write:metrics")
    client = app.test_client()
    auth = bearer(token(client, info).get_json()["access_token"])
    refused = client.get("/api/v1/tilesets", headers=auth)
    assert refused.status_code == 403 and "read:tiles" in refused.get_json()["detail"]
    posted = client.post("/api/v1/metrics", headers=auth, json=[])
    assert posted.status_code not in (401, 403)  # ingest is its action (the batch is empty)


def test_only_granted_scopes_are_issued_and_unknown_ones_refused(app, capsys):
    info = register(capsys, "narrow", "--scopes", "read:tiles,read:layers")
    client = app.test_client()
    narrowed = token(client, info, scope="read:tiles import").get_json()
    assert narrowed["scope"] == "read:tiles"
    unknown = token(client, info, scope="everything")
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "invalid_scope"


def test_wrong_secret_revoked_app_and_expired_token_are_refused(app, capsys):
    info = register(capsys, "short", "--scopes", "read:tiles")
    client = app.test_client()
    wrong = token(client, info | {"client_secret": "cts_wrong"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert wrong.get_json()["status"] == 401  # problem members too
    access = token(client, info).get_json()["access_token"]
    db = app.extensions["cimtwin"].security.db.connect()
    db.execute("UPDATE app_tokens SET expires='2000-01-01T00:00:00+00:00'")
    expired = client.get("/api/v1/tilesets/t-public", headers=bearer(access))
    assert expired.status_code == 401 and "oauth/token" in expired.get_json()["detail"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 401
    fresh = token(client, info).get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(fresh)).get_json()["name"] == "app:short"
    assert cli(["apps", "revoke", "short"]) == 0
    assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 401
    assert token(client, info).status_code == 401


def test_every_call_of_an_app_is_audited_under_its_name(app, capsys):
    info = register(capsys, "audited", "--scopes", "read:tiles", "--level", "internal")
    client = app.test_client()
    auth = bearer(token(client, info).get_json()["access_token"])
    client.get("/api/v1/tilesets", headers=auth)
    client.get("/api/v1/tilesets/t-public", headers=auth)
    for _ in range(3):
        client.get("/tiles/t-internal/tileset.json", headers=auth)
    records = app.extensions["cimtwin"].security.audit.query(actor="app:audited")
    actions = [(r["action"], r["target"]) for r in records]
    assert ("oauth.token", "app:audited") in actions
    assert ("call GET /api/v1/tilesets", "/api/v1/tilesets") in actions
    assert ("call GET /api/v1/tilesets/<tileset_id>", "tileset:t-public") in actions
    tiles = [a for a in actions if a[1] == "tileset:t-internal"]
    assert len(tiles) == 1  # tile files once per window


def test_cors_answers_only_registered_origins(app, capsys):
    register(capsys, "web", "--scopes", "read:tiles", "--origin", "https://dust.example.gov.cn")
    client = app.test_client()
    ok = client.options("/api/v1/tilesets", headers={
        "Origin": "https://dust.example.gov.cn", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://dust.example.gov.cn"
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    other = client.get("/api/v1/tilesets", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # Every answer names Origin in Vary, with or without a (registered) Origin, so a
    # cached answer without CORS headers is never reused for the registered origin.
    for answer in (ok, other, client.get("/api/v1/tilesets")):
        vary = {v.strip().lower() for v in answer.headers.get("Vary", "").split(",")}
        assert "origin" in vary, answer.headers
