"""The import registry: one entry per kind, and the one way every import runs.

An :class:`ImportKind` says what a kind accepts (:class:`Inputs`), its options (each an
:class:`Option`, declared once with type, default, help and choices) and the library
function that does the work. ``cimtwin import <kind>`` (server.cli), the upload jobs
API ``POST /api/imports/<kind>`` (server.jobs_api) and the demo build (server.demo) are
all generated from / go through this registry, so adding a kind is one
``register(ImportKind(...))`` plus its library function (docs/architecture.md shows one).

Every run passes the placement check (:mod:`server.placement`): geometry that lands
outside its CRS's area of use is refused, naming --crs/--origin, unless ``force``.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from layers.model import CLASSIFICATIONS
from layers.model import KINDS as LAYER_KINDS
from server.placement import Placement
from tiles.glb.encode import COMPRESSIONS

Progress = Callable[[dict], None] | None


class ImportOptionError(ValueError):
    """An import option that is unknown, of the wrong type or not one of its choices."""

    status = 400


def pairs(text: str) -> tuple[str, str]:
    """The type of a repeatable FIELD=VALUE option: 'stage=completed' -> ('stage', 'completed')."""
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip():
        raise ImportOptionError(f"expected FIELD=VALUE, got {text!r}")
    return key.strip(), value.strip()


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One option of an import kind.

    ``name`` is the CLI flag (``--geoid-offset`` for ``geoid_offset``), the upload form
    field and the key callers pass; ``param`` is the run function's keyword when it
    differs. ``type`` is str, int, float, bool (a flag) or :func:`pairs` (repeatable
    FIELD=VALUE, passed on as a dict). ``default`` None means "not given" (the library
    then applies config, e.g. ``tiles.compression``).
    """

    name: str
    type: Callable[[str], Any] = str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    param: str | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def keyword(self) -> str:
        return self.param or self.name

    def convert(self, value: Any) -> Any:
        """A value from a caller, a CLI or a form field -> the value the run function gets."""
        if value is None:
            return self.default
        if self.type is pairs:
            items = value.items() if isinstance(value, dict) else value
            return dict(pair if isinstance(pair, tuple) else pairs(pair) for pair in items) \
                or self.default
        if self.type is bool:
            return _boolean(self.flag, value)
        if isinstance(value, str) and self.type is not str:
            if value.strip() == "":
                return self.default
            try:
                value = self.type(value)
            except ValueError:
                raise ImportOptionError(f"{self.flag} must be a {self.type.__name__}, "
                                        f"got {value!r}") from None
        if self.choices is not None and value not in self.choices:
            raise ImportOptionError(f"{self.flag} must be one of {', '.join(self.choices)}, "
                                    f"got {value!r}")
        return value


def _boolean(flag: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ImportOptionError(f"{flag} must be true or false, got {value!r}")


@dataclass(frozen=True)
class Inputs:
    """What a kind reads: files with one of ``suffixes``, or a ``folder``.

    An upload of a folder kind is a .zip of the folder (unpacked by the jobs API).
    """

    suffixes: tuple[str, ...] = ()
    folder: bool = False

    @property
    def metavar(self) -> str:
        return "FOLDER" if self.folder else "FILE"

    def upload_suffixes(self) -> tuple[str, ...]:
        return (".zip",) if self.folder else self.suffixes

    def describe(self) -> str:
        return "a folder (uploaded as a .zip)" if self.folder else ", ".join(self.suffixes)


@dataclass(frozen=True)
class ImportKind:
    """One import kind: ``ImportKind(name, inputs, options, run)``.

    ``run(services, source: Path, *, progress, placement, **options) -> dict`` is the
    library function; it must send its geometry through ``placement`` (see
    :class:`server.placement.Placement`). It may be given as "module:function" so that
    its heavy dependencies (ifcopenshell, geopandas, the engine) load only when that
    kind runs, not on every ``cimtwin`` start.
    """

    name: str
    inputs: Inputs
    options: tuple[Option, ...]
    run: Callable[..., dict] | str
    help: str = ""
    title: str = ""
    extra: dict = field(default_factory=dict)

    def function(self) -> Callable[..., dict]:
        if callable(self.run):
            return self.run
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """Option name -> converted value for every option (defaults filled in)."""
        unknown = sorted(set(values) - {o.name for o in self.options})
        if unknown:
            raise ImportOptionError(
                f"unknown option(s) for import {self.name}: {', '.join(unknown)}; it takes "
                f"{', '.join(o.name for o in self.options)}")
        return {o.name: o.convert(values.get(o.name)) for o in self.options}


_KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind, *, replace: bool = False) -> ImportKind:
    """Add ``kind`` to the registry (``replace=True`` swaps an existing entry)."""
    if kind.name in _KINDS and not replace:
        raise ValueError(f"import kind {kind.name!r} is already registered")
    names = [o.name for o in kind.options]
    if len(set(names)) != len(names) or "force" not in names:
        raise ValueError(f"import kind {kind.name!r}: options must be unique and include "
                         "the common 'force' (see COMMON)")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def kinds() -> list[ImportKind]:
    """The registered kinds, in registration order."""
    return list(_KINDS.values())


def get_kind(name: str) -> ImportKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise ImportOptionError(f"unknown import kind {name!r}; one of "
                                f"{', '.join(_KINDS)}") from None


def run_import(services, kind: str, source: str | Path, /, *, progress: Progress = None,
               **values: Any) -> dict:
    """Run one import of ``kind`` from ``source`` with option ``values`` (by option name)."""
    entry = get_kind(kind)
    resolved = entry.resolve(values)
    placement = Placement(force=resolved.pop("force"))
    arguments = {entry.option(name).keyword: value for name, value in resolved.items()}
    result = entry.function()(services, Path(source), progress=progress, placement=placement,
                              **arguments)
    if not placement.checked:
        raise RuntimeError(f"import kind {kind!r} ran without the placement check: its run "
                           "function must pass its geometry through `placement`")
    return result


# -- the common options, declared once -------------------------------------------------

NAME = Option("name", help="display name (default: from the file name)")
TILESET_ID = Option("id", param="tileset_id", metavar="ID",
                    help="tileset id; an existing one is replaced atomically "
                         "(default: from the name)")
CLASSIFICATION = Option("classification", default="internal", choices=CLASSIFICATIONS,
                        help="who may see it (anonymous users see public only; "
                             "default internal)")
COMPRESSION = Option("compression", choices=COMPRESSIONS,
                     help="glb compression (default: config tiles.compression)")
CRS = Option("crs", help="source CRS: EPSG code, PROJ string or WKT")
ORIGIN = Option("origin", metavar="E,N[,H]",
                help="easting,northing,height of the data's local (0,0,0), in the CRS's "
                     "units (metres for EPSG:4548), not latitude,longitude")
GEOID_OFFSET = Option("geoid_offset", type=float, param="geoid_offset_m", metavar="N",
                      help="geoid offset N in metres, applied to orthometric heights "
                           "(ellipsoidal = orthometric + N; default: config "
                           "tiles.geoid_offset_m)")
FORCE = Option("force", type=bool, default=False,
               help="import even when the geometry lands outside the CRS's area of use")

GEOID = Option("geoid", metavar="MODEL|GRID|N",
               help="heights are orthometric: 'egm96', a geoid grid path, or N in metres "
                    "(default: config tiles.geoid)")

#: The options every tileset kind has; kinds with a CRS add CRS and ORIGIN.
COMMON = (NAME, TILESET_ID, CLASSIFICATION, COMPRESSION, GEOID_OFFSET, FORCE)


def with_help(option: Option, help: str) -> Option:
    """A common option with kind-specific help (same name, type and default)."""
    return dataclasses.replace(option, help=help)


def _builtin_kinds() -> Iterable[ImportKind]:
    yield ImportKind(
        "mesh", Inputs(suffixes=(".obj", ".ply", ".glb", ".gltf", ".zip", ".stl", ".off")),
        (*COMMON, with_help(CRS, CRS.help + " (required)"), ORIGIN,
         Option("vertical", default="ellipsoidal", choices=("ellipsoidal", "orthometric"),
                help="height datum of the z values (default ellipsoidal; orthometric "
                     "heights get --geoid-offset N added)")),
        "server.tileset_imports:import_mesh",
        help="a mesh file (OBJ/PLY/glb) -> 3D Tiles", title="imported mesh")
    yield ImportKind(
        "photo", Inputs(folder=True),
        (NAME, TILESET_ID, CLASSIFICATION, COMPRESSION,
         with_help(GEOID_OFFSET, "heights are orthometric: geoid offset N in metres "
                                 "(ellipsoidal = orthometric + N); without it (and without "
                                 "--geoid / tiles.geoid) heights are taken as ellipsoidal"),
         FORCE,
         with_help(CRS, "CRS when there is no metadata.xml, or to override it"),
         with_help(ORIGIN, "E,N,H the vertex coordinates are relative to (metadata.xml "
                           "SRSOrigin; CRS units)"),
         Option("rebuild_lod", type=bool, default=False,
                help="re-simplify the finest level instead of keeping the producer's "
                     "PagedLOD levels"),
         GEOID,
         Option("texture_format", default="jpeg", choices=("jpeg", "png", "webp"),
                help="encoding of raw (uncompressed) OSGB textures: jpeg (default), png, "
                     "or webp (EXT_texture_webp, smaller; inline JPEG stays JPEG)")),
        "server.reality_imports:import_photo",
        help="a ContextCapture production folder (metadata.xml + Data/ with OSGB or OBJ), "
             "one tile folder, one .osgb or one mesh file -> 3D Tiles (the producer's "
             "levels are kept)", title="imported reality mesh")
    yield ImportKind(
        "pointcloud", Inputs(suffixes=(".las", ".laz")),
        (NAME, TILESET_ID, CLASSIFICATION, FORCE,
         with_help(GEOID_OFFSET, "heights are orthometric: geoid offset N in metres "
                                 "(ellipsoidal = orthometric + N; or use --geoid)"),
         with_help(CRS, "override the file's CRS (headers lie; EPSG code, PROJ or WKT)"),
         Option("vertical_unit", choices=("m", "ft", "us-ft"),
                help="unit of the heights (default: the CRS's; feet become metres)"),
         GEOID),
        "server.reality_imports:import_pointcloud",
        help="a LAS/LAZ point cloud -> 3D Tiles (glb points)", title="imported point cloud")
    yield ImportKind(
        "tileset", Inputs(folder=True),
        (NAME, TILESET_ID, CLASSIFICATION, FORCE,
         Option("upgrade", type=bool, default=False,
                help="convert legacy b3dm/pnts/cmpt contents to glb (3D Tiles 1.1) before "
                     "the checks; what cannot be converted is kept and named")),
        "server.reality_imports:import_tileset",
        help="delivered 3D Tiles (a folder or its tileset.json): checked, copied into the "
             "store and published", title="imported tileset")
    yield ImportKind(
        "bim", Inputs(suffixes=(".ifc",)),
        (*COMMON, with_help(CRS, "override the model's CRS (EPSG code, PROJ string or WKT)"),
         with_help(ORIGIN, "E,N,H of the model's origin in --crs (CRS units)"),
         Option("rotation", type=float, metavar="DEG",
                help="degrees from grid east to the model's x axis"),
         Option("include_spaces", type=bool, default=False, help="also import IfcSpace volumes")),
        "server.bim_imports:import_bim_file",
        help="an IFC model -> 3D Tiles with pickable elements", title="imported BIM model")
    yield ImportKind(
        "layer", Inputs(suffixes=(".geojson", ".json", ".gpkg", ".zip", ".csv", ".shp")),
        (NAME, dataclasses.replace(TILESET_ID, param="layer_id",
                                   help="layer id (default: from the file name)"),
         CLASSIFICATION, with_help(CRS, "source CRS when the file has none (e.g. EPSG:4548)"),
         FORCE,
         Option("kind", choices=LAYER_KINDS,
                help="what the layer holds (checks its fields; default other)"),
         Option("map", type=pairs, param="field_map", metavar="FIELD=COLUMN",
                help="take FIELD (e.g. stage) from the file's COLUMN; repeatable"),
         Option("default", type=pairs, param="defaults", metavar="FIELD=VALUE",
                help="value for FIELD where the file has none (e.g. stage=completed)"),
         Option("source_layer", help="layer inside a GeoPackage/zip with several"),
         Option("encoding", help="text encoding of a Shapefile/CSV (e.g. GB18030)"),
         Option("description", help="a description shown with the layer")),
        "server.layer_imports:import_layer_file",
        help="a GIS layer (GeoJSON, Shapefile, GeoPackage, CSV)", title="imported layer")

    yield ImportKind(
        "buildings", Inputs(suffixes=(".geojson", ".json", ".gpkg", ".zip", ".shp")),
        (*COMMON, with_help(CRS, "source CRS when the file has none (e.g. EPSG:4548)"),
         Option("layer_id", help="id of the footprint layer (default: from the file name)"),
         Option("height_field", help="column with the height in metres "
                                     "(default: height_m, height, ... if present)"),
         Option("floors_field", help="column with the number of floors (default: floors, "
                                     "levels, building:levels, 层数 ... if present)"),
         Option("storey_height", type=float, default=3.0, metavar="M",
                help="metres per floor with --floors-field (default 3.0)"),
         Option("default_height", type=float, metavar="M",
                help="height in metres for buildings with neither (a warning counts them)"),
         Option("base_height", type=float, default=0.0, metavar="M",
                help="ground height in metres where a footprint has no Z (default 0)")),
        "server.city_imports:import_buildings",
        help="building footprints -> white models (LoD1, flat roofs) as 3D Tiles, plus the "
             "footprint layer", title="imported white models")
    yield ImportKind(
        "citymodel", Inputs(suffixes=(".json", ".cityjson", ".jsonl", ".gml", ".xml", ".citygml")),
        (*COMMON, with_help(CRS, "CRS when the file declares none "
                                 "(e.g. EPSG:4548 or EPSG:4548+5773)")),
        "server.city_imports:import_citymodel",
        help="CityJSON 1.1/2.0 or CityGML 1.0/2.0 buildings (LoD1/LoD2) -> 3D Tiles, one "
             "feature per Building/BuildingPart", title="imported city model")


for _kind in _builtin_kinds():
    register(_kind)
