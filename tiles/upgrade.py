"""Upgrade 3D Tiles 1.0 contents (b3dm, pnts, cmpt) to glb, as 3D Tiles 1.1 has them.

``cimtwin import tileset --upgrade`` runs :func:`upgrade_folder` on a copy of the
delivered folder before the usual checks, so what is published is checked (structure,
gltf-validator) exactly like a tileset delivered in glb.

- **b3dm**: the embedded glb is kept byte for byte except for its JSON and an appended
  tail of the binary chunk. ``RTC_CENTER`` (feature table) or ``CESIUM_RTC`` (glTF)
  becomes a root node translation, converted to glTF's y-up frame. ``_BATCHID`` becomes
  ``_FEATURE_ID_0`` with EXT_mesh_features, and the batch table JSON (and its binary
  numeric columns) becomes an EXT_structural_metadata property table, so picking still
  returns the delivered properties. The two legacy b3dm headers are recognised.
- **pnts**: positions (float or quantized; the quantized volume offset goes into the
  node translation, so no precision is lost), RGB/RGBA/RGB565/CONSTANT_RGBA colours and
  normals become a POINTS primitive; ``BATCH_ID`` or per-point batch table properties
  become feature ids and a property table.
- **cmpt**: each inner tile is upgraded; the tile gets 3D Tiles 1.1 ``contents``.

What cannot be upgraded stays as delivered and is named in a warning: i3dm, glTF 1.0
payloads, glbs with external buffers, 3DTILES_batch_table_hierarchy.
"""
from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tiles.errors import InputError
from tiles.glb.builder import (ARRAY_BUFFER, FLOAT, UBYTE, USHORT, GlbBuilder,
                               feature_id_component, read_glb, z_up_to_y_up)
from tiles.glb.encode import add_property_table
from tiles.glb.metadata import PropertyTable, infer_schema
from tiles.readers.tileset import TilesetScan

_GLTF_MAGIC_AS_INT = 570425344  # b"glTF" read as uint32: a legacy header's tell-tale
_COMPONENTS = {"BYTE": "<i1", "UNSIGNED_BYTE": "<u1", "SHORT": "<i2", "UNSIGNED_SHORT": "<u2",
               "INT": "<i4", "UNSIGNED_INT": "<u4", "FLOAT": "<f4", "DOUBLE": "<f8"}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


class NotUpgradable(InputError):
    """A content this upgrade cannot convert; it is kept as delivered."""


@dataclass
class UpgradeReport:
    """What :func:`upgrade_folder` did: converted files and what it kept as delivered."""

    converted: dict[str, list[str]] = field(default_factory=dict)  # old uri -> new uris
    kept: dict[str, str] = field(default_factory=dict)  # uri -> why it was kept
    warnings: list[str] = field(default_factory=list)


# -- binary tables ---------------------------------------------------------------------

def _table(data: bytes, offset: int, json_len: int, bin_len: int, what: str
           ) -> tuple[dict[str, Any], bytes]:
    if offset + json_len + bin_len > len(data):
        raise InputError(f"{what}: the table lengths run past the end of the file")
    text = data[offset:offset + json_len].rstrip(b" \0")
    try:
        table = json.loads(text) if text else {}
    except ValueError as exc:
        raise InputError(f"{what}: unreadable table JSON ({exc})") from exc
    return table, data[offset + json_len:offset + json_len + bin_len]


def _binary(table: dict, binary: bytes, name: str, count: int, component: str, kind: str,
            what: str) -> np.ndarray:
    """A feature/batch table property: a JSON array or a reference into the binary body."""
    ref = table[name]
    width = _WIDTH[kind]
    if isinstance(ref, list):
        return np.asarray(ref, dtype=np.float64).reshape(-1, width) if width > 1 \
            else np.asarray(ref, dtype=np.float64)
    component = ref.get("componentType", component)
    dtype = np.dtype(_COMPONENTS[component])
    start, size = int(ref.get("byteOffset", 0)), count * width * dtype.itemsize
    if start + size > len(binary):
        raise InputError(f"{what}: {name} runs past the end of the binary body")
    values = np.frombuffer(binary, dtype=dtype, count=count * width, offset=start)
    return values.reshape(count, width) if width > 1 else values


def _rtc(feature: dict, binary: bytes, what: str) -> np.ndarray | None:
    if "RTC_CENTER" not in feature:
        return None
    return _binary(feature, binary, "RTC_CENTER", 1, "FLOAT", "VEC3", what)[0] \
        .astype(np.float64)


def _batch_rows(batch: dict, binary: bytes, count: int, what: str,
                report: UpgradeReport) -> list[dict[str, Any]]:
    """The batch table as one property dict per feature."""
    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for name, column in batch.items():
        if name == "extensions":
            report.warnings.append(f"{what}: batch table extensions "
                                   f"({', '.join(column)}) are not carried over")
            continue
        if name == "extras":
            continue
        if isinstance(column, dict) and "byteOffset" in column:
            kind = column.get("type", "SCALAR")
            values = _binary(batch, binary, name, count, "FLOAT", kind, what)
            values = values.tolist()
        elif isinstance(column, list) and len(column) == count:
            values = column
        else:
            report.warnings.append(f"{what}: batch table property {name!r} has no value "
                                   f"per feature ({count}); dropped")
            continue
        for row, value in zip(rows, values):
            row[name] = value
    return rows


def _add_metadata(b: GlbBuilder, rows: list[dict[str, Any]]) -> bool:
    """Top-level EXT_structural_metadata from batch rows; False when there is nothing."""
    if not rows or not any(rows):
        return False
    add_property_table(b, PropertyTable(infer_schema(rows), rows))
    return True


# -- b3dm ------------------------------------------------------------------------------

def _b3dm_header(data: bytes, what: str) -> tuple[int, int, int, int, int, int]:
    """(header size, ft json, ft bin, bt json, bt bin, batch length or -1)."""
    if len(data) < 28:
        raise InputError(f"{what}: shorter than a b3dm header")
    magic, _version, length, ftj, ftb, btj, btb = struct.unpack_from("<4s6I", data)
    if magic != b"b3dm" or length > len(data):
        raise InputError(f"{what}: not a b3dm (magic {magic!r}) or truncated "
                         f"({len(data)} of {length} bytes)")
    if btj >= _GLTF_MAGIC_AS_INT:  # legacy 1: [batchLength][batchTableByteLength]
        return 20, 0, 0, ftb, 0, ftj
    if btb >= _GLTF_MAGIC_AS_INT:  # legacy 2: [btJSON][btBinary][batchLength]
        return 24, 0, 0, ftj, ftb, btj
    return 28, ftj, ftb, btj, btb, -1


def _from_existing_glb(glb: bytes, what: str) -> GlbBuilder:
    if glb[:4] != b"glTF" or struct.unpack_from("<I", glb, 4)[0] != 2:
        raise NotUpgradable(f"{what}: the payload is not glTF 2.0 (glTF 1.0 content is "
                            "kept as delivered)")
    gltf, binary = read_glb(glb)
    buffers = gltf.pop("buffers", [])
    if len(buffers) > 1 or any("uri" in buf for buf in buffers):
        raise NotUpgradable(f"{what}: the glb references external buffers")
    b = GlbBuilder()
    b.gltf = gltf
    b.gltf.setdefault("bufferViews", [])
    b.gltf.setdefault("accessors", [])
    b.gltf["buffers"] = []
    b.bin = bytearray(binary)
    b.extensions_used = set(gltf.pop("extensionsUsed", []))
    b.extensions_required = set(gltf.pop("extensionsRequired", []))
    return b


def _wrap_in_translation(b: GlbBuilder, center: np.ndarray) -> None:
    """Every scene's roots under one node translated by ``center`` (z-up -> y-up)."""
    nodes = b.gltf.setdefault("nodes", [])
    scenes = b.gltf.get("scenes") or [{"nodes": _root_nodes(nodes)}]
    for scene in scenes:
        nodes.append({"name": "RTC_CENTER", "children": list(scene.get("nodes", [])),
                      "translation": [float(v) for v in z_up_to_y_up(center)]})
        scene["nodes"] = [len(nodes) - 1]
    b.gltf["scenes"] = scenes
    b.gltf.setdefault("scene", 0)


def _root_nodes(nodes: list[dict]) -> list[int]:
    children = {c for node in nodes for c in node.get("children", [])}
    return [i for i in range(len(nodes)) if i not in children]


def _batch_ids_to_features(b: GlbBuilder, count: int, with_table: bool) -> int:
    """_BATCHID attributes -> _FEATURE_ID_0 + EXT_mesh_features; how many primitives."""
    done = 0
    for mesh in b.gltf.get("meshes", []):
        for prim in mesh.get("primitives", []):
            attributes = prim.get("attributes", {})
            name = "_BATCHID" if "_BATCHID" in attributes else \
                "BATCHID" if "BATCHID" in attributes else None
            if name is None:
                continue
            attributes["_FEATURE_ID_0"] = _aligned_ids(b, attributes.pop(name))
            ids: dict[str, Any] = {"featureCount": max(count, 1), "attribute": 0}
            if with_table:
                ids["propertyTable"] = 0
            prim.setdefault("extensions", {})["EXT_mesh_features"] = {"featureIds": [ids]}
            done += 1
    if done:
        b.use("EXT_mesh_features")
    return done


def _aligned_ids(b: GlbBuilder, index: int) -> int:
    """The batch id accessor, rewritten as float32 when its elements are not 4-byte
    aligned (1.0 exporters often pack uint16 ids tightly, which glTF 2.0 forbids)."""
    accessor = b.gltf["accessors"][index]
    dtype = np.dtype({UBYTE: "<u1", USHORT: "<u2"}.get(accessor["componentType"], "<f4"))
    view = b.gltf["bufferViews"][accessor.get("bufferView", -1)] \
        if "bufferView" in accessor else None
    stride = (view or {}).get("byteStride", dtype.itemsize)
    if view is None or (dtype.itemsize >= 4 and stride % 4 == 0) or stride % 4 == 0:
        return index
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    raw = np.frombuffer(bytes(b.bin), np.uint8, accessor["count"] * stride, start)
    ids = raw.reshape(-1, stride)[:, :dtype.itemsize].copy().view(dtype).reshape(-1)
    return b.add_accessor(b.add_view(ids.astype(np.float32).tobytes(), ARRAY_BUFFER),
                          FLOAT, accessor["count"], "SCALAR")


def upgrade_b3dm(data: bytes, what: str, report: UpgradeReport) -> bytes:
    """One b3dm -> glb bytes (see the module docstring)."""
    header, ftj, ftb, btj, btb, legacy_count = _b3dm_header(data, what)
    feature, feature_bin = _table(data, header, ftj, ftb, what)
    batch, batch_bin = _table(data, header + ftj + ftb, btj, btb, what)
    count = int(feature.get("BATCH_LENGTH", legacy_count if legacy_count >= 0 else 0))
    length = struct.unpack_from("<I", data, 8)[0]
    b = _from_existing_glb(data[header + ftj + ftb + btj + btb:length], what)
    center = _rtc(feature, feature_bin, what)
    cesium_rtc = (b.gltf.get("extensions") or {}).pop("CESIUM_RTC", None)
    b.extensions_used.discard("CESIUM_RTC")
    b.extensions_required.discard("CESIUM_RTC")
    if cesium_rtc is not None:
        center = np.asarray(cesium_rtc["center"], float) + (0 if center is None else center)
    if b.gltf.get("extensions") == {}:
        del b.gltf["extensions"]
    if center is not None and np.any(center != 0):
        _wrap_in_translation(b, center)
    rows = _batch_rows(batch, batch_bin, count, what, report) if count else []
    with_table = _add_metadata(b, rows)
    if _batch_ids_to_features(b, count, with_table) == 0 and with_table:
        report.warnings.append(f"{what}: a batch table but no _BATCHID attribute; the "
                               "properties are kept but no geometry points at them")
    return b.finish()


# -- pnts ------------------------------------------------------------------------------

def _pnts_positions(feature: dict, binary: bytes, count: int, what: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(positions float32 z-up relative to the returned offset, offset float64)."""
    offset = np.zeros(3)
    if "POSITION" in feature:
        positions = _binary(feature, binary, "POSITION", count, "FLOAT", "VEC3", what)
    elif "POSITION_QUANTIZED" in feature:
        quantized = _binary(feature, binary, "POSITION_QUANTIZED", count, "UNSIGNED_SHORT",
                            "VEC3", what)
        scale = np.asarray(feature["QUANTIZED_VOLUME_SCALE"], float)
        offset = np.asarray(feature["QUANTIZED_VOLUME_OFFSET"], float)
        positions = quantized.astype(np.float64) / 65535.0 * scale
    else:
        raise InputError(f"{what}: a pnts without POSITION or POSITION_QUANTIZED")
    return np.asarray(positions, np.float32), offset


def _pnts_colors(feature: dict, binary: bytes, count: int, what: str) -> np.ndarray | None:
    """uint8 (N,4) RGBA, or None."""
    if "RGBA" in feature:
        return np.asarray(_binary(feature, binary, "RGBA", count, "UNSIGNED_BYTE", "VEC4",
                                  what), np.uint8)
    if "RGB" in feature:
        rgb = np.asarray(_binary(feature, binary, "RGB", count, "UNSIGNED_BYTE", "VEC3",
                                 what), np.uint8)
        return np.hstack([rgb, np.full((count, 1), 255, np.uint8)])
    if "RGB565" in feature:
        packed = _binary(feature, binary, "RGB565", count, "UNSIGNED_SHORT", "SCALAR",
                         what).astype(np.uint32)
        channels = [(packed >> 11) & 31, (packed >> 5) & 63, packed & 31]
        rgb = np.stack([channels[0] * 255 // 31, channels[1] * 255 // 63,
                        channels[2] * 255 // 31], axis=1)
        return np.hstack([rgb, np.full((count, 1), 255)]).astype(np.uint8)
    if "CONSTANT_RGBA" in feature:
        return np.tile(np.asarray(feature["CONSTANT_RGBA"], np.uint8), (count, 1))
    return None


def upgrade_pnts(data: bytes, what: str, report: UpgradeReport) -> bytes:
    """One pnts -> glb bytes with a POINTS primitive (see the module docstring)."""
    if len(data) < 28 or data[:4] != b"pnts":
        raise InputError(f"{what}: not a pnts (magic {data[:4]!r})")
    _magic, _version, length, ftj, ftb, btj, btb = struct.unpack_from("<4s6I", data)
    if length > len(data):
        raise InputError(f"{what}: truncated ({len(data)} of {length} bytes)")
    feature, feature_bin = _table(data, 28, ftj, ftb, what)
    batch, batch_bin = _table(data, 28 + ftj + ftb, btj, btb, what)
    count = int(feature.get("POINTS_LENGTH", 0))
    if count <= 0:
        raise InputError(f"{what}: POINTS_LENGTH is {count}")
    positions, offset = _pnts_positions(feature, feature_bin, count, what)
    center = offset + (_rtc(feature, feature_bin, what) if "RTC_CENTER" in feature else 0)
    b = GlbBuilder()
    y_up = z_up_to_y_up(positions).astype(np.float32)
    attributes = {"POSITION": b.add_accessor(
        b.add_view(y_up.tobytes(), ARRAY_BUFFER), FLOAT, count, "VEC3",
        minmax=(y_up.min(axis=0), y_up.max(axis=0)))}
    colors = _pnts_colors(feature, feature_bin, count, what)
    if colors is not None:
        attributes["COLOR_0"] = b.add_accessor(b.add_view(colors.tobytes(), ARRAY_BUFFER),
                                               UBYTE, count, "VEC4", normalized=True)
    if "NORMAL" in feature:
        normals = _binary(feature, feature_bin, "NORMAL", count, "FLOAT", "VEC3", what)
        normals = z_up_to_y_up(np.asarray(normals, np.float32)).astype(np.float32)
        attributes["NORMAL"] = b.add_accessor(b.add_view(normals.tobytes(), ARRAY_BUFFER),
                                              FLOAT, count, "VEC3")
    primitive: dict[str, Any] = {"attributes": attributes, "mode": 0}
    _pnts_features(b, primitive, feature, feature_bin, batch, batch_bin, count, what, report)
    root: dict[str, Any] = {"name": "points", "mesh": b.add_list(
        "meshes", {"primitives": [primitive]})}
    if np.any(center != 0):
        root["translation"] = [float(v) for v in z_up_to_y_up(np.asarray(center, float))]
    b.gltf["nodes"], b.gltf["scenes"], b.gltf["scene"] = [root], [{"nodes": [0]}], 0
    return b.finish()


def _pnts_features(b: GlbBuilder, primitive: dict, feature: dict, feature_bin: bytes,
                   batch: dict, batch_bin: bytes, count: int, what: str,
                   report: UpgradeReport) -> None:
    """BATCH_ID -> _FEATURE_ID_0; otherwise per-point batch rows with implicit ids."""
    if "BATCH_ID" in feature:
        batches = int(feature.get("BATCH_LENGTH", 0))
        ids = _binary(feature, feature_bin, "BATCH_ID", count, "UNSIGNED_SHORT", "SCALAR",
                      what).astype(np.int64)
        component, ids = feature_id_component(ids)
        primitive["attributes"]["_FEATURE_ID_0"] = b.add_accessor(
            b.add_view(ids.tobytes(), ARRAY_BUFFER), component, count, "SCALAR")
        rows = _batch_rows(batch, batch_bin, batches, what, report) if batch else []
        spec: dict[str, Any] = {"featureCount": max(batches, 1), "attribute": 0}
    else:
        rows = _batch_rows(batch, batch_bin, count, what, report) if batch else []
        spec = {"featureCount": count}
    if "BATCH_ID" not in feature and not any(rows):
        return
    if _add_metadata(b, rows):
        spec["propertyTable"] = 0
    b.use("EXT_mesh_features")
    primitive["extensions"] = {"EXT_mesh_features": {"featureIds": [spec]}}


# -- cmpt and the folder ---------------------------------------------------------------

def upgrade_content(data: bytes, what: str, report: UpgradeReport) -> list[bytes]:
    """One legacy content -> one glb per inner tile (cmpt holds several)."""
    magic = data[:4]
    if magic == b"b3dm":
        return [upgrade_b3dm(data, what, report)]
    if magic == b"pnts":
        return [upgrade_pnts(data, what, report)]
    if magic == b"cmpt":
        if len(data) < 16:
            raise InputError(f"{what}: shorter than a cmpt header")
        _m, _v, length, tiles = struct.unpack_from("<4sIII", data)
        out, at = [], 16
        for i in range(tiles):
            if at + 12 > min(length, len(data)):
                raise InputError(f"{what}: inner tile {i} runs past the end")
            inner = struct.unpack_from("<I", data, at + 8)[0]
            out += upgrade_content(data[at:at + inner], f"{what}[{i}]", report)
            at += inner
        return out
    raise NotUpgradable(f"{what}: {magic.decode('latin-1')!r} content (i3dm and others) is "
                        "kept as delivered")


def upgrade_folder(scan: TilesetScan, out: Path) -> UpgradeReport:
    """Copy the scanned tileset to ``out`` with its legacy contents upgraded to glb and
    every tileset JSON pointing at the new files (asset.version 1.1)."""
    report = UpgradeReport()
    legacy = set(scan.legacy)
    for file in scan.files:
        relative = file.relative_to(scan.folder)
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if file not in legacy:
            shutil.copyfile(file, target)
            continue
        try:
            glbs = upgrade_content(file.read_bytes(), relative.as_posix(), report)
        except NotUpgradable as exc:
            report.kept[relative.as_posix()] = str(exc)
            shutil.copyfile(file, target)
            continue
        names = [relative.with_suffix(".glb").as_posix()] if len(glbs) == 1 else \
            [relative.with_name(f"{relative.stem}_{i}.glb").as_posix()
             for i in range(len(glbs))]
        for name, glb in zip(names, glbs):
            (out / name).write_bytes(glb)
        report.converted[relative.as_posix()] = names
    for document in scan.jsons:
        _rewrite_document(document, scan.folder, out, report)
    report.warnings += [f"kept as delivered: {why}" for why in report.kept.values()]
    return report


def _rewrite_document(document: Path, folder: Path, out: Path, report: UpgradeReport
                      ) -> None:
    relative = document.relative_to(folder)
    base = relative.parent
    tileset = json.loads(document.read_text(encoding="utf-8"))
    tileset.setdefault("asset", {})["version"] = "1.1"
    stack = [tileset["root"]]
    while stack:
        tile = stack.pop()
        stack += tile.get("children", [])
        contents = tile.pop("contents", None) or ([tile.pop("content")]
                                                  if "content" in tile else [])
        new: list[dict[str, Any]] = []
        for content in contents:
            key = (base / content["uri"].split("?")[0]).as_posix()
            key = Path(key).as_posix()
            for uri in report.converted.get(_normal(key), [None]):
                item = dict(content)
                if uri is not None:
                    item["uri"] = Path(uri).relative_to(base).as_posix() \
                        if base != Path(".") else uri
                new.append(item)
        if len(new) == 1:
            tile["content"] = new[0]
        elif new:
            tile["contents"] = new
    (out / relative).write_text(json.dumps(tileset, ensure_ascii=False), encoding="utf-8")


def _normal(path: str) -> str:
    """'a/./b/../c' -> 'a/c' (content URIs are already checked not to leave the folder)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
