"""The bim_import package's errors: one root, a few kinds a caller may tell apart.

Every message says what is wrong and what the user can do about it; the server maps
:class:`BimError` to an HTTP 400 problem and the CLI prints the message.
"""


class BimError(Exception):
    """Root of every error raised by ``bim_import``."""


class IfcFileError(BimError):
    """The file is not IFC, is truncated, or uses a schema we do not read."""


class GeoreferenceMissingError(BimError):
    """The model carries no usable georeference and no override was given."""


class ElementIndexError(BimError):
    """An element index that cannot be opened or a query that cannot be answered."""
