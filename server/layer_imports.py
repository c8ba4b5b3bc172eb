"""``cimtwin import layer`` minus argument parsing, with the registry's placement check.

``layers.importer.import_layer`` reads, validates and stores the layer; here its store
is wrapped so the layer's bounds are checked against its CRS's area of use before the
layer is written (nothing is stored when the check fails).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pyproj import Transformer

from layers.importer import import_layer
from server.placement import Placement
from server.services import Services

Progress = Callable[[dict], None] | None


class _PlacedLayerStore:
    """A LayerStore whose ``put_layer`` first checks the layer's placement (then delegates)."""

    def __init__(self, store: Any, placement: Placement):
        self._store = store
        self._placement = placement

    def put_layer(self, frame: Any, info: Any) -> Any:
        if len(frame) and frame.crs is not None:
            # only the bounds are converted, not the whole frame
            transformer = Transformer.from_crs(frame.crs, "OGC:CRS84", always_xy=True)
            bounds = transformer.transform_bounds(*frame.total_bounds)
            self._placement.lonlat_bounds(frame.crs.to_wkt(), bounds)
        else:
            self._placement.checked = True
        return self._store.put_layer(frame, info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def import_layer_file(services: Services, path: str | Path, *, name: str | None = None,
                      layer_id: str | None = None, kind: str | None = None,
                      crs: str | None = None, classification: str = "internal",
                      field_map: dict | None = None, defaults: dict | None = None,
                      source_layer: str | None = None, encoding: str | None = None,
                      description: str | None = None, progress: Progress = None,
                      placement: Placement | None = None) -> dict:
    """A GIS file -> a stored layer (``layers.importer.import_layer``); returns its info."""
    placement = placement or Placement()
    info = import_layer(_PlacedLayerStore(services.layers, placement), path, layer_id=layer_id,
                        title=name, kind=kind, crs=crs, classification=classification,
                        field_map=field_map, defaults=defaults, source_layer=source_layer,
                        encoding=encoding, description=description or "")
    result = info.to_dict() if hasattr(info, "to_dict") else dict(vars(info))
    if placement.warnings:
        result["warnings"] = list(result.get("warnings") or []) + placement.warnings
    services.events.emit("layer.changed", {"layer": info.id, "change": "imported",
                                           "feature_ids": None, "count": info.count},
                         info.classification)
    return result
