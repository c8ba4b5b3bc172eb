"""A CIM+ application's first steps with cimtwin, using only `requests`:

1. authenticate as a registered app (OAuth2 client credentials);
2. upload a BIM model (an import job);
3. wait for the job;
4. query one element of the imported model.

Register the app first (a data-admin, on the server):
    cimtwin apps add site-office --scopes import,read:tiles --level internal
Then:
    python import_bim.py --server http://127.0.0.1:8000 --client-id app_... \
        --client-secret cts_... --crs EPSG:4548 --origin 500000,4058000,30 model.ifc
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import requests


def access_token(server: str, client_id: str, client_secret: str) -> str:
    """Exchange the app's credentials for a short-lived bearer token."""
    answer = requests.post(f"{server}/api/v1/oauth/token", auth=(client_id, client_secret),
                           data={"grant_type": "client_credentials"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def upload(session: requests.Session, server: str, path: Path, options: dict) -> str:
    """Upload an IFC file as a BIM import; returns the job's URL."""
    data = path.read_bytes()
    form = {"size": str(len(data)), "sha256": hashlib.sha256(data).hexdigest(), **options}
    answer = session.post(f"{server}/api/v1/imports/bim", data=form,
                          files={"file": (path.name, data)}, timeout=300)
    if answer.status_code != 202:
        sys.exit(f"upload refused: {answer.status_code} {answer.json().get('detail')}")
    return server + answer.headers["Location"]


def wait_for(session: requests.Session, job_url: str, timeout_s: float = 600) -> dict:
    """Poll the job until it is done (its result) or failed (exit with its error)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = session.get(job_url, timeout=30).json()
        if job["state"] == "done":
            return job["result"]
        if job["state"] == "failed":
            sys.exit(f"import failed: {job['error']}")
        time.sleep(0.5)
    sys.exit(f"import still running after {timeout_s} s: {job_url}")


def first_element(session: requests.Session, server: str, tileset_id: str,
                  ifc_class: str) -> dict:
    """Find one element of a class, then read all its properties by GlobalId."""
    found = session.get(f"{server}/api/v1/bim/{tileset_id}/elements",
                        params={"class": ifc_class, "limit": 1}, timeout=30).json()
    if not found["elements"]:
        sys.exit(f"no {ifc_class} in {tileset_id}")
    global_id = found["elements"][0]["GlobalId"]
    return session.get(f"{server}/api/v1/bim/{tileset_id}/elements/{global_id}",
                       timeout=30).json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ifc", type=Path)
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--crs", help="the model's CRS when it carries no georeference")
    parser.add_argument("--origin", help="E,N,H of the model's origin in --crs")
    parser.add_argument("--class", dest="ifc_class", default="IfcWall")
    args = parser.parse_args()
    session = requests.Session()
    token = access_token(args.server, args.client_id, args.client_secret)
    session.headers["Authorization"] = f"Bearer {token}"
    options = {k: v for k, v in (("crs", args.crs), ("origin", args.origin)) if v}
    result = wait_for(session, upload(session, args.server, args.ifc, options))
    print(f"imported {result['tileset_id']}: {result['features']} elements")
    element = first_element(session, args.server, result["tileset_id"], args.ifc_class)
    print(f"{element['IfcClass']} {element['GlobalId']} {element.get('Name') or ''}")
    for key, value in element.items():  # class, storey, materials, property sets
        if key not in ("fid", "GlobalId", "IfcClass", "Name"):
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
