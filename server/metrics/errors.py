"""The root error of the metrics runtime and its kinds (HTTP status set on each class)."""
from __future__ import annotations


class MetricError(Exception):
    """Input a client can fix; the message names the field (and batch index)."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None):
        super().__init__(message)
        self.field = field
        self.index = index


class MetricNotFound(MetricError):
    """An unknown or hidden sensor, datastream, rule or alarm (hidden answers 404 too)."""

    status = 404


class MetricConflict(MetricError):
    """The request conflicts with stored state (an alarm already acknowledged)."""

    status = 409


class BatchTooLarge(MetricError):
    """More observations in one request than ``MAX_BATCH``."""

    status = 413


class StreamsFull(MetricError):
    """Every live-stream slot of this worker is taken."""

    status = 503


class BusUnavailable(MetricError):
    """The live bus cannot take more readings now (Redis unreachable, its queue full)."""

    status = 503
    retry_after = 5
