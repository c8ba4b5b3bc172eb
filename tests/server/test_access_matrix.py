"""Every HTTP endpoint x every role (and anonymous, and a share link) x every classification.

The expected answer is derived from the tables in docs/security.md (roles: levels and
actions; endpoints: dataset and needed action) and its three rules (401/403 for a missing
action, then 404 for a dataset the caller may not see, else the endpoint's own answer),
not from the code. This file only says how to call each endpoint.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server.app import create_app
from server.bim_imports import element_index_path, import_bim_file
from server.versioning import is_legacy, successor
from tests.conftest import require_shared_data
from tiles.store import write_tileset

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
LEVELS = ("public", "internal", "restricted")
PASSWORD = "matrix password 1"
SHARE_LEVELS = {"public", "internal"}  # docs: a share adds public and internal, that dataset


def doc_tables() -> list[list[list[str]]]:
    """Every markdown table of docs/security.md as rows of cells (header and rule dropped)."""
    tables, current = [], []
    for line in DOC.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("|"):
            current.append([html.unescape(c.strip()) for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current[2:])
            current = []
    return tables


def table_with(header_first: str, second: str) -> list[list[str]]:
    for line_table, raw in zip(doc_tables(), _raw_headers()):
        if raw[:2] == [header_first, second]:
            return line_table
    raise AssertionError(f"docs/security.md has no table '| {header_first} | {second} |'")


def _raw_headers() -> list[list[str]]:
    headers, inside = [], False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not inside:
            headers.append([c.strip() for c in line.strip().strip("|").split("|")])
        inside = line.startswith("|")
    return headers


def split(cell: str) -> set[str]:
    return set() if cell == "-" else {v.strip() for v in cell.split(",")}


ROLES = {r[0]: (split(r[1]), split(r[2])) for r in table_with("role", "levels")}
ENDPOINTS = [tuple(r) for r in table_with("method", "path")]


@dataclass
class Caller:
    name: str
    levels: set[str]
    actions: set[str] = field(default_factory=set)
    user: bool = False
    share: str | None = None  # the level of the dataset its share link is for


def callers() -> list[Caller]:
    found = [Caller("anonymous", {"public"})]
    found += [Caller(role, levels, actions, user=True) for role, (levels, actions)
              in ROLES.items()]
    found += [Caller(f"share-{level}", {"public"}, share=level) for level in LEVELS]
    return found


def expected(method: str, path: str, dataset: str, needs: str, caller: Caller,
             level: str | None) -> str:
    """The answer class per docs/security.md: '401', '403', '404' or 'ok'."""
    if needs != "-":
        allowed = caller.user if needs == "signed-in" else needs in caller.actions
        if not allowed:
            return "403" if caller.user else "401"
    if dataset != "-":
        levels = set(caller.levels)
        names_dataset = "<tileset_id>" in path or "<collection_id>" in path
        if caller.share == level and names_dataset:
            levels |= SHARE_LEVELS
        if level not in levels:
            return "404"
    return "ok"


def answer_class(status: int, dataset: str) -> str:
    if status in (401, 403):
        return str(status)
    if status == 404 and dataset != "-":
        return "404"
    assert status < 500 and status != 429, f"unexpected {status}"
    return "ok"


FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.13, 36.66]},
           "properties": {"name": "edit"}}


def request_for(method: str, path: str, level: str) -> tuple[str, dict]:
    """(URL, client kwargs) that exercises one endpoint for a dataset at ``level``."""
    ids = {"tileset_id": f"t-{level}", "collection_id": f"l-{level}", "bim": f"b-{level}"}
    url = path.split(" (")[0]
    if "(kind bim)" in path:
        url = "/api/v1/imports/bim"
    elif "(kind" in path:
        url = "/api/v1/imports/mesh"
    if path.startswith("/api/v1/bim/"):
        url = url.replace("<tileset_id>", ids["bim"]).replace("<global_id>", "{gid}")
    url = (url.replace("<tileset_id>", ids["tileset_id"])
           .replace("<collection_id>", ids["collection_id"]).replace("<path:path>", "{file}")
           .replace("<feature_id>", "1").replace("<int:alarm_id>", "999999")
           .replace("<int:rule_id>", "999999").replace("<path:name>", "init.js"))
    url = re.sub(r"<[a-z_]+>", "nope", url)
    files = {"/viewer/{file}": "js/main.js", "/cesium/{file}": "Cesium.js"}
    url = url.replace("{file}", files.get(path.split("<")[0] + "{file}", "tileset.json"))
    kwargs: dict = {}
    if url.startswith("/api/v1/analysis/") and "projects" not in url:
        url += f"?tileset={ids['bim']}&limit_m=100&far=2&site_area_m2=1000"
    if path == "/api/v1/metrics/history":
        url += "?sensor=nope&metric=pm25"
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    if url.startswith("/ogc/collections/") and method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = FEATURE
    if url.endswith("/classification"):
        kwargs["json"] = {"classification": "bogus"}  # refused as a 400 after the checks
    if url == "/api/v1/shares" and method == "POST":
        kwargs["json"] = {"dataset": ids["tileset_id"], "kind": "tileset"}
    if url == "/api/v1/login":
        kwargs["json"] = {"username": "viewer", "password": PASSWORD}
    if url.startswith("/api/v1/imports/"):
        kwargs = {"data": {}, "content_type": "multipart/form-data"}
    return url, kwargs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app with a tileset, a BIM model and a layer at each level, a user per role."""
    data = tmp_path_factory.mktemp("matrix")
    app = create_app({"data": {"dir": str(data)},
                      "auth": {"login_rate": "10000 per minute",
                               "write_rate": "10000 per minute"}})
    services = app.extensions["cimtwin"]
    first = import_bim_file(services, require_shared_data("ifc", "AC20-FZK-Haus.ifc"),
                            tileset_id="b-public", classification="public")
    geojson = data / "src.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [FEATURE]}))
    from layers.importer import import_layer
    for level in LEVELS:
        _clone_bim(services, "b-public", f"b-{level}", level)
        write_tileset(services.store, f"t-{level}",
                      {"tileset.json": services.store.get("b-public", "tileset.json")})
        services.catalog.add({"id": f"t-{level}", "name": level, "kind": "mesh",
                              "classification": level})
        import_layer(services.layers, geojson, layer_id=f"l-{level}", classification=level)
    for role in ROLES:
        services.security.users.add(role, role, PASSWORD)
    shares = services.security.shares
    tokens = {}
    for level in LEVELS:  # restricted: as if reclassified after sharing (never served)
        made = [shares.create(kind, f"{prefix}-{level}", "internal", expires_in="1d",
                              created_by="matrix")["token"]
                for kind, prefix in (("tileset", "t"), ("tileset", "b"), ("layer", "l"))]
        tokens[level] = made
    gid = _index_ids(services, "b-public")[0]
    clients = {caller.name: Client(app, caller, tokens) for caller in callers()}
    return app, clients, gid, first


def _clone_bim(services, source: str, target: str, level: str) -> None:
    if target != source:
        write_tileset(services.store, target,
                      ((path, services.store.get(source, path))
                       for path in list(services.store.list(source))))
        shutil.copy(element_index_path(services, source), element_index_path(services, target))
    entry = services.catalog.get(source) | {"id": target, "classification": level}
    services.catalog.add(entry)


def _index_ids(services, tileset_id: str) -> list[str]:
    import sqlite3
    db = sqlite3.connect(element_index_path(services, tileset_id))
    return [r[0] for r in db.execute("SELECT global_id FROM elements LIMIT 1")]


class Client:
    """A caller's way of sending requests (cookie session + CSRF, or a share link)."""

    def __init__(self, app, caller: Caller, tokens: dict):
        self.app, self.caller, self.tokens = app, caller, tokens
        self.client = app.test_client()
        self.headers = {}
        if caller.user:
            self.headers = self._login(self.client)

    def _login(self, client) -> dict:
        response = client.post("/api/v1/login", json={"username": self.caller.name,
                                                   "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        return {"X-CSRF-Token": response.get_json()["csrf"]}

    def send(self, method: str, url: str, kwargs: dict, level: str | None):
        client, headers = self.client, dict(self.headers)
        if url in ("/api/v1/login", "/api/v1/logout"):  # own cookies, not the caller's session
            client = self.app.test_client()
            if self.caller.user:
                headers = self._login(client)
        if self.caller.share:
            share_level = self.caller.share
            kind = 2 if url.startswith("/ogc/") else 1 if url.startswith(
                ("/api/v1/bim/", "/api/v1/analysis/")) else 0
            headers["X-Cimtwin-Share"] = self.tokens[share_level][kind]
        response = client.open(url, method=method, headers=headers, buffered=False, **kwargs)
        status = response.status_code
        response.close()
        return status


def cases():
    for method, path, dataset, needs in ENDPOINTS:
        for level in (LEVELS if dataset != "-" else (None,)):
            yield pytest.param(method, path, dataset, needs, level,
                               id=f"{method} {path} {level or ''}".strip())


@pytest.mark.parametrize("method, path, dataset, needs, level", list(cases()))
def test_access_matrix(world, method, path, dataset, needs, level):
    app, clients, gid, _ = world
    url, kwargs = request_for(method, path, level or "public")
    url = url.replace("{gid}", gid)
    got, want = {}, {}
    for caller in callers():
        status = clients[caller.name].send(method, url, kwargs, level)
        got[caller.name] = answer_class(status, dataset)
        want[caller.name] = expected(method, path, dataset, needs, caller, level)
    assert got == want


def test_every_route_is_in_the_documented_table(world):
    """Every route; a deprecated /api/... alias is checked as its /api/v1/... successor."""
    app = world[0]
    documented = {(m, p.split(" (")[0]) for m, p, _, _ in ENDPOINTS}
    missing = sorted(f"{m} {rule.rule}" for rule in app.url_map.iter_rules()
                     for m in rule.methods - {"HEAD", "OPTIONS"}
                     if (m, successor(rule.rule) if is_legacy(rule.rule) else rule.rule)
                     not in documented)
    assert missing == [], "add these routes to the endpoint table of docs/security.md"


@pytest.mark.parametrize("method, path", [("GET", "/api/tilesets/<tileset_id>"),
                                          ("POST", "/api/imports/<kind> (kind bim)"),
                                          ("GET", "/api/audit")])
def test_a_deprecated_alias_answers_as_its_successor(world, method, path):
    """The unversioned path gives every caller the answer of its /api/v1 successor."""
    _, clients, _, _ = world
    for level in LEVELS:
        new_url, kwargs = request_for(method, successor(path), level)
        old_url = "/api/" + new_url[len("/api/v1/"):]
        for caller in callers():
            client = clients[caller.name]
            assert client.send(method, old_url, kwargs, level) == \
                client.send(method, new_url, kwargs, level), (caller.name, old_url)
