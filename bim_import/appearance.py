"""IFC surface styles -> glTF PBR materials.

The geometry iterator resolves each face's IfcSurfaceStyle (or a default per class
when the file has none). Colour and transparency carry over; glass that an exporter
left opaque (a common Revit/ArchiCAD habit: the style is named "Glass" but has no
Transparency) is made transparent, because a window you cannot see through hides
the rooms a construction official is inspecting.
"""
from __future__ import annotations

import math
import re

from tiles.model import Material

#: Alpha given to glass whose style says nothing about transparency.
GLASS_ALPHA = 0.35

_GLASS = re.compile(r"glass|glas\b|glazing|verglas|vitr|玻璃", re.IGNORECASE)


def to_material(style) -> Material:
    """A :class:`Material` for one ifcopenshell style (``geometry.materials[i]``)."""
    name = str(getattr(style, "name", "") or "default")
    r, g, b = _diffuse(style)
    transparency = _float(getattr(style, "transparency", None))
    alpha = 1.0 - transparency if transparency is not None else 1.0
    alpha = min(1.0, max(0.15, alpha))
    if alpha >= 0.999 and _GLASS.search(name):
        alpha = GLASS_ALPHA
    roughness = 0.1 if alpha < 0.999 else 0.9
    return Material(name=_short(name), base_color=(r, g, b, alpha), metallic=0.0,
                    roughness=roughness, double_sided=True)


def material_group(material: Material) -> tuple:
    """Key under which faces are merged into one batch (same look -> one draw call)."""
    return tuple(round(c, 3) for c in material.base_color)


def _diffuse(style) -> tuple[float, float, float]:
    colour = getattr(style, "diffuse", None)
    try:
        rgb = (colour.r(), colour.g(), colour.b())
    except AttributeError:
        return (0.8, 0.8, 0.8)
    return tuple(min(1.0, max(0.0, v)) if _float(v) is not None else 0.8 for v in rgb)


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _short(name: str) -> str:
    """Style names like 'IfcSurfaceStyleRendering-67' or long Revit names, trimmed."""
    return name if len(name) <= 64 else name[:61] + "..."
