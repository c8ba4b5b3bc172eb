"""Item edits (OGC API - Features Part 4), shared by every backend: what a new, replaced
or patched feature becomes after the layer's schema and kind rules, and what its
history row records (who, when, old and new values).

A backend calls :func:`prepare_item` inside its transaction, writes the returned row,
then writes :func:`history_row`; a validation error raises before anything is written.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from layers.errors import LayerError
from layers.model import LayerInfo

#: Kinds whose items may be edited one by one.
EDITABLE_KINDS = ("projects", "facilities")
#: Property every editable item carries: when it last changed (UTC, RFC 3339).
UPDATED = "updated_at"
#: Properties the kind rules compute; a client may send them but they are recomputed.
DERIVED = {"stage_zh", "category_zh", "lifecycle_start", "lifecycle_end", UPDATED}


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_editable(info: LayerInfo) -> None:
    if info.kind not in EDITABLE_KINDS:
        raise LayerError(f"layer {info.id!r} is a {info.kind} layer; items can be edited in "
                         f"{' and '.join(EDITABLE_KINDS)} layers (re-import others)", )


def prepare_item(info: LayerInfo, columns: tuple[str, ...], body: dict[str, Any],
                 old: dict[str, Any] | None, *, patch: bool) -> tuple[dict[str, Any], Any]:
    """(properties for every column, shapely geometry in CRS84) after validation.

    ``body`` is a GeoJSON Feature (or, for a patch, any part of one); ``old`` the stored
    feature being replaced or patched (None on create).
    """
    from layers.schema import validate_kind
    check_editable(info)
    if not isinstance(body, dict):
        raise LayerError("the request body must be a GeoJSON Feature object")
    given = body.get("properties") or {}
    if not isinstance(given, dict):
        raise LayerError("'properties' must be an object")
    unknown = [k for k in given if k not in columns]
    if unknown:
        raise LayerError(f"layer {info.id!r} has no properties {', '.join(map(repr, unknown))}; "
                         f"its properties: {', '.join(columns)} (GET .../schema)")
    base = dict(old["properties"]) if (patch and old) else {c: None for c in columns}
    props = {**base, **{k: v for k, v in given.items() if k not in DERIVED}}
    if patch and "geometry" not in body and old is not None:
        geometry = _shape(old.get("geometry"))
    else:
        geometry = _shape(body.get("geometry"), required=True)
    for name, value in props.items():
        props[name] = _typed(value, info.schema.get(name, "string"), name)
    frame = _one_row(props, geometry)
    result = validate_kind(frame, info.kind)
    row = {c: _plain(result.frame[c].iloc[0]) if c in result.frame.columns else None
           for c in columns}
    if UPDATED in columns:
        row[UPDATED] = now_utc()
    return row, geometry


def _one_row(props: dict[str, Any], geometry: Any) -> Any:
    import geopandas as gpd
    return gpd.GeoDataFrame({k: [v] for k, v in props.items()}, geometry=[geometry],
                            crs="OGC:CRS84")


def _shape(geometry: Any, required: bool = False) -> Any:
    from shapely.geometry import shape
    if geometry is None:
        if required:
            raise LayerError("the feature needs a 'geometry' (GeoJSON, lon/lat CRS84 unless "
                             "Content-Crs says otherwise)")
        return None
    try:
        result = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise LayerError(f"'geometry' is not a GeoJSON geometry: {exc}") from None
    if result.is_empty:
        raise LayerError("'geometry' is empty")
    minx, miny, maxx, maxy = result.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise LayerError(f"'geometry' coordinates {result.bounds} are not lon/lat degrees; "
                         "send CRS84 or name the CRS in the Content-Crs header")
    if not result.is_valid:
        raise LayerError("'geometry' is not valid (e.g. a self-intersecting polygon); fix it")
    return result


def _typed(value: Any, kind: str, name: str) -> Any:
    """Check a JSON value against the column's type ('3' is not an integer)."""
    if value is None:
        return None
    ok = {"integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "boolean": isinstance(value, bool)}.get(kind, isinstance(value, str))
    if kind in ("date", "datetime") and isinstance(value, str):
        ok = True
    if not ok:
        raise LayerError(f"property {name!r} must be a {kind}, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    """numpy/pandas scalars and NaN -> plain JSON-able Python values."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def history_row(layer_id: str, feature_id: int, action: str, actor: str,
                old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """What changed: only the differing properties (and geometry) for a replace/patch."""
    if old is not None and new is not None:
        keys = [k for k in new if old.get(k) != new.get(k) and k != UPDATED]
        old, new = {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}
    return {"layer": layer_id, "feature": int(feature_id), "action": action, "actor": actor,
            "at": now_utc(), "old": old, "new": new}


def snapshot(properties: dict[str, Any], geometry: Any) -> dict[str, Any]:
    """Properties plus the GeoJSON geometry, as a history row keeps them."""
    from shapely.geometry import mapping
    geo = geometry if isinstance(geometry, dict) or geometry is None else mapping(geometry)
    return {**properties, "geometry": _json_geometry(geo)}


def _json_geometry(geo: dict | None) -> dict | None:
    import json
    return None if geo is None else json.loads(json.dumps(geo))


class ItemEditing:
    """Part 4 writes for a store that provides the hooks below (one transaction each).

    Hooks: ``_edit_tx(layer_id, levels)`` (a context manager yielding a handle with
    ``.columns`` and ``.info``), ``_tx_fetch``, ``_tx_insert``, ``_tx_update``,
    ``_tx_delete``, ``_tx_history``, ``_tx_save_info``.
    """

    def create_feature(self, layer_id: str, body: dict[str, Any], actor: str,
                       levels: Any = None) -> int:
        """Add a feature; returns its new id."""
        with self._edit_tx(layer_id, levels) as tx:
            row, shape = prepare_item(tx.info, tx.columns, body, None, patch=False)
            fid = self._tx_insert(tx, row, shape)
            self._tx_history(tx, history_row(layer_id, fid, "create", actor, None,
                                             snapshot(row, shape)))
            tx.info.count += 1
            tx.info.bbox = _union(tx.info.bbox, shape.bounds)
            self._tx_save_info(tx)
            return fid

    def replace_feature(self, layer_id: str, feature_id: Any, body: dict[str, Any],
                        actor: str, levels: Any = None) -> dict[str, Any]:
        return self._change(layer_id, feature_id, body, actor, levels, patch=False)

    def update_feature(self, layer_id: str, feature_id: Any, body: dict[str, Any],
                       actor: str, levels: Any = None) -> dict[str, Any]:
        """Merge-patch a feature: given properties change, others stay."""
        return self._change(layer_id, feature_id, body, actor, levels, patch=True)

    def _change(self, layer_id, feature_id, body, actor, levels, *, patch: bool):
        with self._edit_tx(layer_id, levels) as tx:
            fid, old = self._existing(tx, layer_id, feature_id)
            row, shape = prepare_item(tx.info, tx.columns, body, old, patch=patch)
            self._tx_update(tx, fid, row, shape)
            self._tx_history(tx, history_row(layer_id, fid, "update" if patch else "replace",
                                             actor, snapshot(old["properties"], old["geometry"]),
                                             snapshot(row, shape)))
            tx.info.bbox = _union(tx.info.bbox, shape.bounds)
            self._tx_save_info(tx)
            return self._tx_fetch(tx, fid)

    def delete_feature(self, layer_id: str, feature_id: Any, actor: str,
                       levels: Any = None) -> None:
        with self._edit_tx(layer_id, levels) as tx:
            check_editable(tx.info)
            fid, old = self._existing(tx, layer_id, feature_id)
            self._tx_delete(tx, fid)
            self._tx_history(tx, history_row(layer_id, fid, "delete", actor,
                                             snapshot(old["properties"], old["geometry"]), None))
            tx.info.count -= 1
            self._tx_save_info(tx)

    def _existing(self, tx: Any, layer_id: str, feature_id: Any) -> tuple[int, dict]:
        from layers.errors import LayerNotFound
        try:
            fid = int(feature_id)
        except (TypeError, ValueError):
            fid = None
        old = None if fid is None else self._tx_fetch(tx, fid)
        if old is None:
            raise LayerNotFound(f"layer {layer_id!r} has no feature {feature_id!r}")
        return fid, old


def _union(bbox: list[float], bounds: tuple[float, ...]) -> list[float]:
    if not bbox:
        return [float(v) for v in bounds]
    return [min(bbox[0], bounds[0]), min(bbox[1], bounds[1]),
            max(bbox[2], bounds[2]), max(bbox[3], bounds[3])]
