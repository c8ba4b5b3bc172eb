"""The root error of the metrics runtime: bad observations or queries (HTTP 400)."""
from __future__ import annotations


class MetricError(Exception):
    """Input a client can fix; the message names the field (and batch index)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None):
        super().__init__(message)
        self.field = field
        self.index = index
