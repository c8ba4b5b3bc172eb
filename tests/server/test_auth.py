"""Accounts, sign-in, sessions with CSRF, machine tokens, rate limits, break-glass tokens."""
import os
import subprocess
import sys

import pytest

from server.app import create_app
from server.hardening import check_serve_tokens

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.delenv("CIMTWIN_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("CIMTWIN_INGEST_TOKEN", raising=False)
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    users = app.extensions["cimtwin"].security.users
    for name, role in (("pia", "planner"), ("olga", "operator"), ("dora", "data-admin")):
        users.add(name, role, PASSWORD)
    return app


def login(client, name, password=PASSWORD):
    return client.post("/api/login", json={"username": name, "password": password})


def test_passwords_are_stored_as_argon2_hashes(app):
    db = app.extensions["cimtwin"].security.db.connect()
    stored = db.execute("SELECT password FROM users WHERE name='pia'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_sets_a_strict_httponly_session_cookie_and_logout_ends_it(app):
    client = app.test_client()
    response = login(client, "pia")
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    me = client.get("/api/me").get_json()
    assert me["name"] == "pia" and me["role"] == "planner"
    assert set(me["levels"]) == {"public", "internal"}
    csrf = response.get_json()["csrf"]
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/me").get_json()["name"] == "anonymous"


def test_cookie_is_secure_over_tls(app):
    client = app.test_client()
    response = client.post("/api/login", json={"username": "pia", "password": PASSWORD},
                           base_url="https://cimtwin.intranet")
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_unknown_user_and_disabled_account_are_refused(app):
    client = app.test_client()
    assert login(client, "pia", "not the password").status_code == 401
    assert login(client, "nobody").status_code == 401
    app.extensions["cimtwin"].security.users.set_disabled("pia")
    assert login(client, "pia").status_code == 401


def test_disabling_a_user_ends_their_session(app):
    client = app.test_client()
    login(client, "pia")
    app.extensions["cimtwin"].security.users.set_disabled("pia")
    assert client.get("/api/me").get_json()["name"] == "anonymous"


def test_cookie_writes_need_the_csrf_token(app):
    client = app.test_client()
    csrf = login(client, "olga").get_json()["csrf"]
    body = {"scopes": ["ingest"], "note": "gateway"}
    refused = client.post("/api/tokens", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["title"]
    wrong = client.post("/api/tokens", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = client.post("/api/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_machine_tokens_are_hashed_scoped_and_revocable(app):
    security = app.extensions["cimtwin"].security
    secret, info = security.users.create_token("dora", ["ingest"], note="gateway")
    stored = security.db.connect().execute("SELECT hash FROM tokens").fetchone()[0]
    assert secret not in stored and info["id"] in secret
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    reading = {"sensor_id": "s1", "metric": "pm25", "value": 12.0}
    assert client.post("/api/metrics", json=reading).status_code == 401
    # past authorization: the metrics part answers (an unregistered sensor is its 400)
    assert client.post("/api/metrics", json=reading, headers=bearer).status_code \
        not in (401, 403, 429)
    # dora may share as data-admin, but this token is scoped to ingest only
    share = client.post("/api/shares", json={"dataset": "x"}, headers=bearer)
    assert share.status_code == 403
    security.users.revoke_token(info["id"])
    assert client.post("/api/metrics", json=reading, headers=bearer).status_code == 403


def test_a_token_cannot_exceed_its_users_role(app):
    client = app.test_client()
    csrf = login(client, "olga").get_json()["csrf"]
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/tokens", json={"scopes": ["share"]},
                       headers=headers).status_code == 403
    made = client.post("/api/tokens", json={"scopes": ["ingest"]}, headers=headers)
    assert made.status_code == 201 and made.get_json()["token"].startswith("ct_")


def test_repeated_wrong_passwords_get_429(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path / "data")},
                      "auth": {"failed_auth_limit": "5 per minute"}})
    app.extensions["cimtwin"].security.users.add("pia", "planner", PASSWORD)
    client = app.test_client()
    codes = [login(client, "pia", f"guess {i}").status_code for i in range(8)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
    # the right password does not get through either while the address is blocked
    assert login(client, "pia").status_code == 429


def test_guessing_tokens_gets_429(tmp_path):
    app = create_app({"data": {"dir": str(tmp_path / "data")},
                      "auth": {"failed_auth_limit": "5 per minute"}})
    client = app.test_client()
    codes = [client.get("/api/tilesets", headers={"Authorization": f"Bearer guess{i}"})
             .status_code for i in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3


def test_break_glass_env_tokens_still_work(app, monkeypatch):
    monkeypatch.setenv("CIMTWIN_ADMIN_TOKEN", "a-long-random-admin-token-for-tests")
    client = app.test_client()
    me = client.get("/api/me", headers={
        "Authorization": "Bearer a-long-random-admin-token-for-tests"}).get_json()
    assert me["role"] == "admin" and "restricted" in me["levels"]


@pytest.mark.parametrize("host, env, refused", [
    ("0.0.0.0", {"CIMTWIN_ADMIN_TOKEN": "demo-admin-token"}, True),
    ("10.1.2.3", {"CIMTWIN_INGEST_TOKEN": "demo-ingest-token"}, True),
    ("0.0.0.0", {"CIMTWIN_ADMIN_TOKEN": "short"}, True),
    ("127.0.0.1", {"CIMTWIN_ADMIN_TOKEN": "demo-admin-token"}, False),
    ("0.0.0.0", {"CIMTWIN_ADMIN_TOKEN": "x" * 40}, False),
    ("0.0.0.0", {}, False),
])
def test_demo_tokens_are_refused_off_loopback(host, env, refused):
    assert (check_serve_tokens(host, env) is not None) == refused


def test_serve_refuses_to_start_on_a_public_address_with_the_demo_token(tmp_path):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(tmp_path / "data"),
               CIMTWIN_ADMIN_TOKEN="demo-admin-token")
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--host", "0.0.0.0",
                           "--port", "0"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "CIMTWIN_ADMIN_TOKEN" in done.stderr and "demo" in done.stderr


def test_make_serve_exports_no_demo_token():
    makefile = (os.path.dirname(__file__) + "/../../Makefile")
    text = open(makefile).read()
    assert "demo-admin-token" not in text and "demo-ingest-token" not in text


def run_cli(tmp_path, *args, stdin=""):
    env = dict(os.environ, CIMTWIN_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_users_cli_add_list_passwd_disable(tmp_path):
    added = run_cli(tmp_path, "users", "add", "wang.li", "--role", "official",
                    stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    password_file = tmp_path / "pw"
    password_file.write_text("another long password\n")
    assert run_cli(tmp_path, "users", "passwd", "wang.li", "--password-file",
                   str(password_file)).returncode == 0
    assert run_cli(tmp_path, "users", "disable", "wang.li").returncode == 0
    listed = run_cli(tmp_path, "users", "list")
    assert "wang.li" in listed.stdout and "official" in listed.stdout
    assert "disabled" in listed.stdout
    app = create_app({"data": {"dir": str(tmp_path / "data")}})
    users = app.extensions["cimtwin"].security.users
    users.set_disabled("wang.li", False)
    assert users.authenticate("wang.li", "another long password") is not None
    assert users.authenticate("wang.li", PASSWORD) is None


def test_users_cli_refuses_short_passwords_and_unknown_roles(tmp_path):
    short = run_cli(tmp_path, "users", "add", "li", "--role", "planner", stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    bad_role = run_cli(tmp_path, "users", "add", "li", "--role", "boss", stdin=PASSWORD)
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr
