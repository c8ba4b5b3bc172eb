"""Liveness and readiness for load balancers and orchestrators (docs/deploy.md).

``GET /api/health/live``: the process answers (no backend touched). ``GET
/api/health/ready``: each backend answers a cheap read; 503 with ``Retry-After`` naming
only the part that failed ("catalog", "tiles", "layers", "metrics"), never a URL, path,
error text or count (a stranger learns nothing about the site from it).
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from server.services import Services, current_services
from server.api_schemas import OBJECT
from server.openapi import describe

bp = Blueprint("health_api", __name__)
log = logging.getLogger("cimtwin.health")


def _checks(services: Services) -> dict:
    return {
        "catalog": lambda: services.catalog.list(levels={"public"}),
        "tiles": lambda: services.store.root.is_dir() or 1 / 0,
        "layers": lambda: services.layers.list_layers(levels=["public"]),
        "metrics": lambda: services.metrics.oldest_ms(),
    }


@bp.get("/api/health/live")
@describe("The process answers", tag="health", response=OBJECT)
def live():
    return jsonify({"status": "ok"})


@bp.get("/api/health/ready")
@describe("Every backend answers (503 names the part that does not)", tag="health", response=OBJECT,
          errors=(503,))
def ready():
    failed = []
    for name, check in _checks(current_services()).items():
        try:
            check()
        except Exception:  # any failure means "not ready"; the details go to the log only
            log.exception("readiness: %s is not answering", name)
            failed.append(name)
    if failed:
        response = jsonify({"status": "unavailable", "failed": failed})
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify({"status": "ready"})
