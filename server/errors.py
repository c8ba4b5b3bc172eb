"""Errors become JSON problem responses (RFC 9457) at the HTTP edge, and only here."""
from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", **extra):
    """A JSON problem response a user (or a script) can act on."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    return response


def domain_errors() -> tuple[type[Exception], ...]:
    """Each package's root error: input a user can fix (400 unless the error says).

    Imported on call: ``bim_import``'s package loads ifcopenshell (~0.5 s), which the CLI
    pays only when it has an error to report.
    """
    from bim_import.errors import BimError
    from layers.errors import LayerError
    from server.analysis_errors import AnalysisError
    from server.backup import BackupError
    from server.catalog import CatalogError
    from server.config import ConfigError
    from server.events import EventError
    from server.imports import ImportOptionError
    from server.archives import ArchiveRefused
    from server.metrics.errors import MetricError
    from server.users import AccountError
    from tiles.errors import TilesError
    return (TilesError, LayerError, BimError, MetricError, CatalogError, ConfigError,
            ImportOptionError, AnalysisError, AccountError, BackupError, ArchiveRefused,
            EventError)


def register_error_handlers(app: Flask) -> None:
    """Every error, expected or not, leaves as JSON."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return problem(exc.code or 500, exc.name, exc.description or "")

    for error_type in domain_errors():
        @app.errorhandler(error_type)
        def domain_error(exc: Exception):
            status = getattr(exc, "status", 400)
            extra = {k: getattr(exc, k) for k in ("field", "index")
                     if getattr(exc, k, None) is not None}
            response = problem(status, type(exc).__name__, str(exc), **extra)
            if getattr(exc, "retry_after", None):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return problem(500, "Internal Server Error",
                       "the server failed; the error is in its log")
