"""LayerStore: the small interface every layer backend implements, chosen by URL scheme.

``open_layer_store("gpkg://layers.gpkg", data_dir)`` gives the embedded GeoPackage
store; ``postgresql://user@host:port/db`` the PostGIS store (:mod:`layers.postgis`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from layers.errors import LayerError
from layers.model import LayerInfo, QueryResult


class LayerStore(Protocol):
    """Stored GIS layers in CRS84, each with a :class:`LayerInfo`."""

    def list_layers(self, levels: Iterable[str] | None = None) -> list[LayerInfo]:
        """Layers whose classification is in ``levels`` (all when None), by id."""

    def get_layer(self, layer_id: str, levels: Iterable[str] | None = None) -> LayerInfo:
        """The layer's info; LayerNotFound if absent or not visible at ``levels``."""

    def put_layer(self, frame: Any, info: LayerInfo) -> LayerInfo:
        """Store (or replace) a layer from a GeoDataFrame, atomically."""

    def delete_layer(self, layer_id: str) -> None:
        """Remove a layer; LayerNotFound if absent."""

    def query(self, layer_id: str, *, bbox: list[float] | None = None, limit: int = 100,
              offset: int = 0, filters: dict[str, str] | None = None,
              datetime: tuple[str | None, str | None] | None = None,
              levels: Iterable[str] | None = None) -> QueryResult:
        """A page of features (GeoJSON dicts, CRS84) and the number matched."""

    def get_feature(self, layer_id: str, feature_id: int,
                    levels: Iterable[str] | None = None) -> dict[str, Any]:
        """One feature by id; LayerNotFound if absent."""

    def close(self) -> None:
        """Release connections."""


def _open_geopackage(rest: str, data_dir: Path) -> LayerStore:
    from layers.gpkg import GeoPackageLayerStore
    if not rest:
        raise LayerError("layers url 'gpkg://' needs a file name, e.g. gpkg://layers.gpkg")
    path = Path(rest)
    return GeoPackageLayerStore(path if path.is_absolute() else Path(data_dir) / path)


def _open_postgis(rest: str, data_dir: Path) -> LayerStore:
    from layers.postgis import PostGISLayerStore  # psycopg is only needed for this backend
    if not rest:
        raise LayerError("layers url 'postgresql://' needs a database, "
                         "e.g. postgresql://cimtwin@127.0.0.1:5432/cimtwin")
    return PostGISLayerStore("postgresql://" + rest)


#: URL scheme -> opener(rest_of_url, data_dir). Add a backend by adding an entry.
BACKENDS: dict[str, Callable[[str, Path], LayerStore]] = {
    "gpkg": _open_geopackage, "postgresql": _open_postgis, "postgres": _open_postgis}


def open_layer_store(url: str, data_dir: str | Path) -> LayerStore:
    """Open the layer store named by ``url`` (config ``layers.url``)."""
    scheme, sep, rest = str(url).partition("://")
    if not sep or scheme not in BACKENDS:
        raise LayerError(f"layers url {url!r} is not supported; use one of: "
                         + ", ".join(f"{s}://..." for s in BACKENDS))
    return BACKENDS[scheme](rest, Path(data_dir))
