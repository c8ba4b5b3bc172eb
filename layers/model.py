"""Plain types of the layers package: what a stored layer is and what a query returns."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from layers.errors import LayerError

#: Kinds of layer the platform knows; each may have its own validation (layers.schema).
KINDS = ("facilities", "projects", "buildings", "sensors", "other")
#: Data classification levels, lowest first (same as the server's auth levels).
CLASSIFICATIONS = ("public", "internal", "restricted")
#: Stored geometry is always in this CRS (lon/lat degrees, WGS 84 / CGCS2000 axes).
STORAGE_CRS = "OGC:CRS84"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_layer_id(layer_id: str) -> str:
    """Return ``layer_id`` if it is a URL-safe id, else raise a LayerError saying why."""
    if not isinstance(layer_id, str) or not _ID.match(layer_id):
        raise LayerError(f"layer id {layer_id!r} is not allowed: use 1-64 lower-case "
                         "letters, digits, '-' or '_', starting with a letter or digit")
    return layer_id


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a LayerError naming them."""
    if value not in allowed:
        raise LayerError(f"{name} {value!r} is not allowed; use one of: {', '.join(allowed)}")
    return value


@dataclass
class LayerInfo:
    """Metadata of one stored layer (what /ogc/collections/<id> describes).

    ``bbox`` is [west, south, east, north] in degrees (CRS84); ``source_crs`` is the CRS
    the data came in (reprojected on import); ``schema`` maps property name -> type
    ("string", "integer", "number", "boolean", "date"); ``temporal`` names the
    properties holding each feature's time extent (start, end), if the layer has one.
    """

    id: str
    title: str
    kind: str = "other"
    classification: str = "internal"
    source_crs: str = ""
    bbox: list[float] = field(default_factory=list)
    count: int = 0
    schema: dict[str, str] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    created: str = ""
    updated: str = ""
    temporal: list[str] | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_layer_id(self.id)
        check_choice("kind", self.kind, KINDS)
        check_choice("classification", self.classification, CLASSIFICATIONS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayerInfo":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class QueryResult:
    """One page of features (GeoJSON Feature dicts in CRS84) and how many matched in all."""

    features: list[dict[str, Any]]
    number_matched: int
