"""The planning checks' errors (``server.analysis``): one root, mapped to HTTP by
``server.errors`` and printed by the CLI. Kept apart so importing them is cheap."""


class AnalysisError(Exception):
    """Root of the planning checks' errors: the message says what to pass or fix."""

    status = 400


class NotCheckable(AnalysisError):
    """A tileset or project that does not exist (for this caller) or has no BIM model."""

    status = 404
