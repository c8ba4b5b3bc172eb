"""Feature properties -> EXT_structural_metadata schema and binary property tables.

A tileset carries one schema, inferred once over every feature of an import
(:func:`infer_schema`), so each tile's glb declares the same class and the viewer sees
the same property ids everywhere. Property ids must match ``^[a-zA-Z_][a-zA-Z0-9_]*$``;
keys such as ``"Pset_WallCommon.IsExternal"`` are sanitised to ids and the original key is
kept as the property's ``name`` (``MetadataSchema.names`` maps id -> original key).

Types: bool -> BOOLEAN (STRING "true"/"false" when some features lack it, because
BOOLEAN columns have no noData and "unknown" must not read as false), int -> INT32
(FLOAT64 beyond int32, STRING beyond 2**53, because CesiumJS hands INT64 to JavaScript
as BigInt, which the viewer cannot JSON-encode), float -> FLOAT64, str -> STRING, a
declared enum key -> ENUM; mixed types fall back to STRING (int+float -> FLOAT64).
Missing values are written as the property's ``noData``, which CesiumJS reports as
``undefined``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from tiles.errors import TilesError

CLASS_ID = "feature"
SCHEMA_ID = "cimtwin"
_ID_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_INT32 = (-(2**31), 2**31 - 1)
#: noData sentinels; the minimum int32 and a huge negative double never occur in
#: real building data, and both are exactly representable in JSON.
INT32_NO_DATA = -(2**31)
FLOAT64_NO_DATA = -1.0e300
STRING_NO_DATA = ""
ENUM_NO_DATA = "__none__"


@dataclass(frozen=True)
class PropertyDef:
    """One column of the class: its id, original key, and glTF metadata type."""

    id: str
    name: str
    type: str  # "STRING" | "BOOLEAN" | "INT32" | "FLOAT64" | "ENUM"
    enum_values: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.type == "STRING":
            out.update(type="STRING", noData=STRING_NO_DATA)
        elif self.type == "BOOLEAN":
            out["type"] = "BOOLEAN"
        elif self.type == "INT32":
            out.update(type="SCALAR", componentType="INT32", noData=INT32_NO_DATA)
        elif self.type == "FLOAT64":
            out.update(type="SCALAR", componentType="FLOAT64", noData=FLOAT64_NO_DATA)
        elif self.type == "ENUM":
            out.update(type="ENUM", enumType=self.id, noData=ENUM_NO_DATA)
        return out


@dataclass
class MetadataSchema:
    """The tileset-wide class ``feature``: ordered properties keyed by sanitised id."""

    properties: dict[str, PropertyDef] = field(default_factory=dict)
    key_to_id: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        """Property id -> original key, for the viewer to show the source names."""
        return {p.id: p.name for p in self.properties.values()}

    def to_json(self) -> dict[str, Any]:
        """The EXT_structural_metadata ``schema`` object."""
        schema: dict[str, Any] = {
            "id": SCHEMA_ID,
            "classes": {CLASS_ID: {"name": "Feature", "properties": {
                pid: p.to_json() for pid, p in self.properties.items()}}},
        }
        enums = {p.id: _enum_json(p.enum_values) for p in self.properties.values()
                 if p.type == "ENUM"}
        if enums:
            schema["enums"] = enums
        return schema


@dataclass
class PropertyTable:
    """One tile's features: ``rows[i]`` holds the properties of feature id ``i``."""

    schema: MetadataSchema
    rows: list[Mapping[str, Any]]


def _enum_json(values: tuple[str, ...]) -> dict[str, Any]:
    entries = [{"name": ENUM_NO_DATA, "value": 0}]
    entries += [{"name": v, "value": i + 1} for i, v in enumerate(values)]
    return {"valueType": "UINT16", "values": entries}


def sanitize_id(key: str, taken: set[str]) -> str:
    """A property id for ``key`` that matches the spec's pattern and is not in ``taken``."""
    pid = re.sub(r"[^a-zA-Z0-9_]", "_", str(key)) or "_"
    if not _ID_RE.match(pid):
        pid = "_" + pid
    base, n = pid, 2
    while pid in taken:
        pid, n = f"{base}_{n}", n + 1
    return pid


def _kind(value: Any) -> str | None:
    """The metadata kind of one Python value; None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "BOOLEAN"
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if _INT32[0] < v <= _INT32[1]:  # the minimum is reserved as noData
            return "INT32"
        return "FLOAT64" if abs(v) <= 2**53 else "STRING"
    if isinstance(value, (float, np.floating)):
        return "FLOAT64"
    return "STRING"


def _merge(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if {a, b} <= {"INT32", "FLOAT64"}:
        return "FLOAT64"
    return "STRING"


def infer_schema(features: Iterable[Mapping[str, Any]],
                 enums: Iterable[str] = ()) -> MetadataSchema:
    """Infer one typed schema over all feature property dicts of an import.

    ``enums`` names keys whose values are a closed set (e.g. ``"ifc_class"``); they become
    ENUM properties listing every value seen. Keys of all-missing values become STRING.
    """
    enum_keys = set(enums)
    kinds: dict[str, str | None] = {}
    present: dict[str, int] = {}
    total = 0
    enum_values: dict[str, set[str]] = {k: set() for k in enum_keys}
    for props in features:
        total += 1
        for key, value in props.items():
            kinds[key] = _merge(kinds.get(key), _kind(value))
            present[key] = present.get(key, 0) + (_kind(value) is not None)
            if key in enum_keys and _kind(value) is not None:
                enum_values[key].add(to_text(value))
    schema = MetadataSchema()
    for key in kinds:
        pid = sanitize_id(key, set(schema.properties))
        if key in enum_keys:
            values = tuple(sorted(enum_values[key]))
            if len(values) >= 65535:
                raise TilesError(f"enum property {key!r} has {len(values)} values; "
                                 "declare it as a plain string property instead")
            prop = PropertyDef(pid, str(key), "ENUM", values)
        else:
            kind = kinds[key] or "STRING"
            if kind == "BOOLEAN" and present[key] < total:
                kind = "STRING"  # BOOLEAN has no noData: "true"/"false"/missing instead
            prop = PropertyDef(pid, str(key), kind)
        schema.properties[pid] = prop
        schema.key_to_id[key] = pid
    return schema


def to_text(value: Any) -> str:
    """A value as the string the STRING column stores (JSON for lists and dicts)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def encode_column(prop: PropertyDef, values: list[Any]) -> dict[str, bytes]:
    """Binary buffers of one property-table column: ``values`` and maybe ``stringOffsets``.

    Values that do not fit the column's type (possible only if the schema was inferred on
    other data) are written as noData rather than failing the whole tile.
    """
    if prop.type == "BOOLEAN":
        bits = np.array([bool(v) if _kind(v) == "BOOLEAN" else False for v in values],
                        dtype=bool)
        return {"values": np.packbits(bits, bitorder="little").tobytes()}
    if prop.type == "INT32":
        col = [int(v) if _kind(v) == "INT32" else INT32_NO_DATA for v in values]
        return {"values": np.asarray(col, dtype="<i4").tobytes()}
    if prop.type == "FLOAT64":
        col = [float(v) if _kind(v) in ("INT32", "FLOAT64") else FLOAT64_NO_DATA
               for v in values]
        return {"values": np.asarray(col, dtype="<f8").tobytes()}
    if prop.type == "ENUM":
        lookup = {v: i + 1 for i, v in enumerate(prop.enum_values)}
        col = [lookup.get(to_text(v), 0) if _kind(v) is not None else 0 for v in values]
        return {"values": np.asarray(col, dtype="<u2").tobytes()}
    texts = [to_text(v).encode("utf-8") if _kind(v) is not None else b"" for v in values]
    offsets = np.zeros(len(texts) + 1, dtype="<u4")
    np.cumsum([len(t) for t in texts], out=offsets[1:])
    return {"values": b"".join(texts), "stringOffsets": offsets.tobytes()}


def property_table_columns(table: PropertyTable) -> dict[str, dict[str, bytes]]:
    """Every column of ``table`` encoded, keyed by property id, in schema order."""
    schema = table.schema
    unknown = {k for row in table.rows for k in row} - set(schema.key_to_id)
    if unknown:
        raise TilesError(f"feature properties {sorted(unknown)[:5]} are not in the "
                         "tileset schema; infer the schema over all features first")
    columns: dict[str, dict[str, bytes]] = {}
    inverse = {pid: key for key, pid in schema.key_to_id.items()}
    for pid, prop in schema.properties.items():
        key = inverse[pid]
        columns[pid] = encode_column(prop, [row.get(key) for row in table.rows])
    return columns


def decode_property_table(gltf: dict[str, Any], bin_chunk: bytes,
                          table_index: int = 0) -> list[dict[str, Any]]:
    """Rows of a glb's property table, decoded back to Python (missing -> None).

    The reverse of what :func:`tiles.glb.encode.to_glb` writes; used by tests and by
``cimtwin tilesets check`` to prove the metadata a viewer reads is the metadata imported.
    """
    ext = gltf["extensions"]["EXT_structural_metadata"]
    props = ext["schema"]["classes"][CLASS_ID]["properties"]
    enums = ext["schema"].get("enums", {})
    table = ext["propertyTables"][table_index]
    count = table["count"]

    def view(index: int) -> bytes:
        bv = gltf["bufferViews"][index]
        start = bv.get("byteOffset", 0)
        return bin_chunk[start:start + bv["byteLength"]]

    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for pid, col in table["properties"].items():
        decl = props[pid]
        raw = view(col["values"])
        values = _decode_values(decl, raw, count, enums,
                                view(col["stringOffsets"]) if "stringOffsets" in col else None)
        for row, v in zip(rows, values):
            row[pid] = v
    return rows


def _decode_values(decl: dict, raw: bytes, count: int, enums: dict,
                   offsets: bytes | None) -> list[Any]:
    if decl["type"] == "BOOLEAN":
        bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:count]
        return [bool(b) for b in bits]
    if decl["type"] == "STRING":
        offs = np.frombuffer(offsets, "<u4")
        texts = [raw[offs[i]:offs[i + 1]].decode("utf-8") for i in range(count)]
        return [None if t == decl.get("noData") else t for t in texts]
    if decl["type"] == "ENUM":
        names = {e["value"]: e["name"] for e in enums[decl["enumType"]]["values"]}
        codes = np.frombuffer(raw, "<u2")[:count]
        return [None if names[int(c)] == decl.get("noData") else names[int(c)] for c in codes]
    dtype = {"INT32": "<i4", "FLOAT64": "<f8"}[decl["componentType"]]
    arr = np.frombuffer(raw, dtype)[:count]
    cast = int if decl["componentType"] == "INT32" else float
    return [None if v == decl.get("noData") else cast(v) for v in arr]
