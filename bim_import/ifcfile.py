"""Open an IFC-SPF file after checking it is one we can read.

ifcopenshell accepts some broken files silently (a truncated file parses up to where it
stops), so the header and the trailer are checked first: a clear error beats a model
with half its elements missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import ifcopenshell

from bim_import.errors import IfcFileError

#: Schemas the reader supports (IFC4X3 exports name several addenda).
SUPPORTED_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3")

_MAGIC = b"ISO-10303-21;"
_TRAILER = b"END-ISO-10303-21;"


def open_ifc(path: str | os.PathLike) -> ifcopenshell.file:
    """Open ``path`` as IFC-SPF; raise :class:`IfcFileError` for anything else."""
    path = Path(path)
    if not path.is_file():
        raise IfcFileError(f"{path}: no such file; pass the path of an .ifc file")
    _check_envelope(path)
    try:
        model = ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell raises bare RuntimeError/IfcError subclasses
        raise IfcFileError(
            f"{path.name}: not a readable IFC file ({exc}); export it again as IFC "
            f"(STEP physical file) from the authoring tool") from exc
    schema = schema_family(model.schema)
    if schema is None:
        raise IfcFileError(
            f"{path.name}: IFC schema {model.schema!r} is not supported; "
            f"export as one of {', '.join(SUPPORTED_SCHEMAS)}")
    if not model.by_type("IfcProject"):
        raise IfcFileError(
            f"{path.name}: the file has no IfcProject; it is not a complete IFC model")
    return model


def schema_family(schema: str) -> str | None:
    """``"IFC4X3_ADD2"`` -> ``"IFC4X3"``; None when the schema is not supported."""
    upper = (schema or "").upper()
    for family in sorted(SUPPORTED_SCHEMAS, key=len, reverse=True):
        if upper == family or upper.startswith(family + "_"):
            return family
    return None


def _check_envelope(path: Path) -> None:
    """The STEP magic at the start and the trailer at the end (catches truncation)."""
    with path.open("rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(_MAGIC):
            raise IfcFileError(
                f"{path.name}: not an IFC-SPF file (it does not begin with 'ISO-10303-21;'); "
                f"IFC-XML and ifcZIP are not read: export as .ifc (STEP)")
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 256))
        tail = fh.read()
    if _TRAILER not in tail:
        raise IfcFileError(
            f"{path.name}: the file is truncated (no 'END-ISO-10303-21;' at its end); "
            f"copy or export it again")
