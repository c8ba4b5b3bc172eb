"""IFC (BIM) models -> a stream of MeshBatch with one pickable feature per element.

Public entry points:

- :func:`read_ifc` (``BimReader``): open, georeference, then ``batches()``;
- :func:`detect_georef`: which georeference a model carries, and its warnings;
- :func:`write_element_index` / :class:`ElementIndex`: the per-model SQLite index;
- :class:`BimError`: the root of every error raised here.

Imports only ``tiles.model`` of the project (plus ifcopenshell, numpy, pyproj).
"""
from bim_import.errors import BimError, GeoreferenceMissingError, IfcFileError
from bim_import.georef import Georef, detect_georef
from bim_import.index import ElementIndex, write_element_index
from bim_import.reader import BimReader, read_ifc

__all__ = ["BimError", "GeoreferenceMissingError", "IfcFileError", "Georef", "detect_georef",
           "ElementIndex", "write_element_index", "BimReader", "read_ifc"]
