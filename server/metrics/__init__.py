"""Live city metrics: validation, stores, the bus, alarms and the runtime tying them.

``open_metrics(config, data_dir) -> MetricsRuntime`` is the entry point (Services.metrics).
"""
from server.metrics.errors import MetricError
from server.metrics.runtime import MetricsRuntime, open_metrics

__all__ = ["MetricError", "MetricsRuntime", "open_metrics"]
