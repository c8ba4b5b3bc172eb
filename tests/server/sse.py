"""A small Server-Sent Events reader for the metrics tests (test client or HTTP)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator


def parse_events(chunks: Iterable[bytes | str]) -> Iterator[dict]:
    """Yield {"id", "event", "data"} per event and {"comment": text} per comment line."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            event: dict = {}
            for line in block.splitlines():
                if line.startswith(":"):
                    yield {"comment": line[1:].strip()}
                    continue
                name, _, value = line.partition(": ")
                event[name] = value
            if "event" in event:
                event["data"] = json.loads(event["data"])
                yield event


def take(events: Iterator[dict], count: int, *, kinds=("observation", "alarm", "reset"),
         comments: list | None = None, max_heartbeats: int = 50) -> list[dict]:
    """The next ``count`` events of the given kinds (comments go to ``comments``); gives
    up (returning what it has) after ``max_heartbeats`` heartbeats without them."""
    out, beats = [], 0
    for item in events:
        if "comment" in item:
            if comments is not None:
                comments.append(item["comment"])
            beats += item["comment"] == "heartbeat"
            if beats > max_heartbeats:
                return out
            continue
        if item["event"] in kinds:
            out.append(item)
            if len(out) == count:
                return out
    return out


def until_comment(events: Iterator[dict], text: str) -> list[dict]:
    """Events seen before the first comment equal to ``text``."""
    out = []
    for item in events:
        if item.get("comment") == text:
            return out
        if "event" in item:
            out.append(item)
    return out
