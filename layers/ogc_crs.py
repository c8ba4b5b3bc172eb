"""CRS by reference (OGC API - Features Part 2): which CRSs are offered, parsing their
URIs, and moving geometry between them in each CRS's own axis order.

Stored data is CRS84 (lon, lat). EPSG:4326 and EPSG:4490 are latitude first, and the
CGCS2000 Gauss-Kruger zones EPSG:4513-4554 are northing first (X = north in their EPSG
definition), so output follows the authority's axis order, as Part 2 requires.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from layers.errors import LayerError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
#: EPSG codes offered besides CRS84: WGS 84, CGCS2000 and its 3-degree GK zones.
EPSG_CODES = (4326, 4490, *range(4513, 4555))
SUPPORTED = (CRS84, *(_EPSG_URI.format(code) for code in EPSG_CODES))
_FORMS = (re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$"),
          re.compile(r"^\[?EPSG:(\d+)\]?$", re.IGNORECASE),
          re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.IGNORECASE))


def parse_crs(text: str | None, parameter: str = "crs") -> str:
    """A crs/bbox-crs value (URI, safe CURIE, EPSG:n, URN) -> its canonical URI; 400 if
    not offered."""
    if text is None or text.strip() == "":
        return CRS84
    value = text.strip()
    if re.match(r"^(https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84|\[?OGC:CRS84\]?)$",
                value, re.IGNORECASE):
        return CRS84
    for form in _FORMS:
        match = form.match(value)
        if match and int(match.group(1)) in EPSG_CODES:
            return _EPSG_URI.format(int(match.group(1)))
    raise LayerError(f"{parameter}={text!r} is not offered; use {CRS84} (default), "
                     "EPSG:4326, EPSG:4490 (CGCS2000) or a CGCS2000 3-degree Gauss-Kruger zone "
                     "EPSG:4513-4554 (e.g. http://www.opengis.net/def/crs/EPSG/0/4548)")


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Any:
    from pyproj import Transformer
    return Transformer.from_crs(_pyproj_name(source), _pyproj_name(target))


def _pyproj_name(uri: str) -> str:
    return "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]


def transform_shape(shape: Any, source: str, target: str) -> Any:
    """A shapely geometry from one offered CRS to another (authority axis order)."""
    import shapely
    if source == target or shape is None:
        return shape
    transformer = _transformer(source, target)

    def move(coords: Any) -> Any:
        import numpy as np
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])
    return shapely.transform(shape, move)


def features_to(features: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """GeoJSON features (CRS84) with their geometry in ``target`` (in place)."""
    if target == CRS84:
        return features
    from shapely.geometry import mapping, shape
    for feature in features:
        if feature.get("geometry"):
            moved = transform_shape(shape(feature["geometry"]), CRS84, target)
            feature["geometry"] = mapping(moved)
    return features


def geometry_to_crs84(geometry: dict[str, Any] | None, source: str) -> dict[str, Any] | None:
    """A GeoJSON geometry sent in ``source`` (Content-Crs of a write) -> CRS84."""
    if geometry is None or source == CRS84:
        return geometry
    from shapely.geometry import mapping, shape
    try:
        parsed = shape(geometry)
    except Exception as exc:  # malformed GeoJSON: several shapely error types
        raise LayerError(f"'geometry' is not a GeoJSON geometry: {exc}") from None
    return mapping(transform_shape(parsed, source, CRS84))


def bbox_to_crs84(bbox: list[float], source: str) -> list[float]:
    """bbox values in ``source``'s axis order -> CRS84 [west, south, east, north]."""
    if source == CRS84:
        return bbox
    transformer = _transformer(source, CRS84)
    west, south, east, north = transformer.transform_bounds(*bbox, densify_pts=21)
    if not all(v == v and abs(v) != float("inf") for v in (west, south, east, north)):
        raise LayerError(f"bbox {bbox} is outside the area of {source}")
    return [west, south, east, north]


def header_value(uri: str) -> str:
    """The Content-Crs header value: the URI in angle brackets."""
    return f"<{uri}>"
