"""Build progress: dict events for the API's job status, and a tqdm bar for the CLI.

The pipeline calls ``progress(event)`` with a plain dict (JSON-friendly, so the server
can store it as job status as is)::

    {"phase": "reading" | "partitioning" | "tiling" | "checking" | "publishing" | "done",
     "triangles": int,        # input triangles read so far
     "tiles": int,            # tiles finished so far
     "tiles_total": int | None,
     "elapsed_s": float, "eta_s": float | None}
"""
from __future__ import annotations

import time
from typing import Callable

Progress = Callable[[dict], None]


class ProgressTracker:
    """Keeps counters and turns them into events with an ETA (by tiles, when known)."""

    def __init__(self, callback: Progress | None, min_interval_s: float = 0.5):
        self.callback = callback
        self.start = time.monotonic()
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self.state = {"phase": "reading", "triangles": 0, "tiles": 0, "tiles_total": None}
        self._phase_start = self.start

    def update(self, force: bool = False, **changes) -> None:
        """Apply counter changes and emit an event (throttled unless ``force``)."""
        if "phase" in changes and changes["phase"] != self.state["phase"]:
            self._phase_start = time.monotonic()
            force = True
        self.state.update(changes)
        now = time.monotonic()
        if self.callback is None or (not force and now - self._last < self.min_interval_s):
            return
        self._last = now
        self.callback(self.event(now))

    def event(self, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        event = dict(self.state, elapsed_s=round(now - self.start, 2), eta_s=None)
        done, total = self.state["tiles"], self.state["tiles_total"]
        if self.state["phase"] == "tiling" and total and done:
            rate = (now - self._phase_start) / done
            event["eta_s"] = round(rate * (total - done), 1)
        return event


def tqdm_progress(**tqdm_kwargs) -> Progress:
    """A progress callback drawing a tqdm bar: triangles read, then tiles with ETA."""
    from tqdm import tqdm  # deferred: an optional CLI dependency, only for a bar

    bar = tqdm(total=None, unit="tri", unit_scale=True, **tqdm_kwargs)
    state = {"phase": None}

    def callback(event: dict) -> None:
        if event["phase"] != state["phase"]:
            state["phase"] = event["phase"]
            if event["phase"] == "tiling":
                bar.reset(total=event.get("tiles_total") or 0)
                bar.unit, bar.unit_scale = "tile", False
            bar.set_description(event["phase"])
        if event["phase"] in ("reading", "partitioning"):
            bar.n = event["triangles"]
        else:
            bar.n = event["tiles"]
        bar.set_postfix(triangles=event["triangles"], tiles=event["tiles"])
        bar.refresh()
        if event["phase"] == "done":
            bar.close()

    return callback
