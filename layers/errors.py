"""The one root error of the layers package.

Every message says what is wrong (which file, row, field or parameter) and what to do;
the server turns a :class:`LayerError` into a 400 JSON problem.
"""
from __future__ import annotations


class LayerError(Exception):
    """Bad layer input or a bad query: the user can fix it by changing what they sent."""

    status = 400


class LayerNotFound(LayerError):
    """No layer (or feature) with that id, or the caller may not see it."""

    status = 404
