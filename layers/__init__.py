"""GIS layers: import, validation, the LayerStore (GeoPackage by default) and the
OGC API - Features documents built from it. Imports nothing of the project."""
from layers.errors import LayerError, LayerNotFound
from layers.model import CLASSIFICATIONS, KINDS, LayerInfo, QueryResult
from layers.store import BACKENDS, LayerStore, open_layer_store


def import_layer(*args, **kwargs):
    """See :func:`layers.importer.import_layer` (imported lazily: it needs geopandas)."""
    from layers.importer import import_layer as run
    return run(*args, **kwargs)


__all__ = ["BACKENDS", "CLASSIFICATIONS", "KINDS", "LayerError", "LayerInfo", "LayerNotFound",
           "LayerStore", "QueryResult", "import_layer", "open_layer_store"]
