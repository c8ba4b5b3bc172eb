"""The tiles package's errors: one root, a few kinds a caller may want to tell apart."""


class TilesError(Exception):
    """Root of every error raised by ``tiles``; the message says what to do."""


class GeoreferenceError(TilesError):
    """A CRS, origin or vertical datum that cannot be resolved or is missing."""


class InputError(TilesError):
    """Input geometry that cannot be repaired (empty, all NaN, unreadable file)."""


class CheckError(TilesError):
    """A tileset that breaks the 3D Tiles rules; it must not be published."""


class StoreError(TilesError):
    """A tileset or file that does not exist, or a path that tries to leave the store."""

    status = 404  # at the HTTP edge: nothing is there (or nothing the caller may read)


class UnsafePathError(StoreError):
    """A request path with '..', an absolute path, an encoded separator or a symlink escape."""
