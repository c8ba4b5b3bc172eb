"""Steps 2 and 3 of a build: partition the spilled input into tiles, build the tiles.

The tree is planned in the main process (:mod:`tiles.build.tiling`, or
:mod:`tiles.build.addtree` for ADD trees with features); tasks on the executor sort
each spill into one bucket file, then build the tiles bottom-up, level by level
(:func:`tiles.build.hlod.build_nodes`).
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
from pathlib import Path
from typing import Any

from tiles.build.addtree import plan_add_tree
from tiles.build.chunk import ChunkRef
from tiles.build.hlod import build_nodes
from tiles.build.reading import IngestState, task_result
from tiles.build.spill import bucket_spill
from tiles.build.tiling import plan_tree
from tiles.model import TileNode
from tiles.progress import ProgressTracker
from tiles.store import write_atomic

#: The partition's index of bucket parts per tile; written last (the step is done).
PARTITION_INDEX = "partition.json"
#: Tiles of one level per task at most, and tasks per worker at least (when batching).
MAX_TILES_PER_TASK = 8
TASKS_PER_WORKER = 4


def plan(state: IngestState, budget: int):
    """ADD trees with features place whole features by size; others split by count."""
    if state.refine == "ADD" and len(state.stats.merged()[0]):
        return plan_add_tree(state.stats, state.lo, state.hi, budget)
    return plan_tree(state.sample, state.lo, state.hi, budget)


def partition(state: IngestState, work: Path, budget: int, tracker: ProgressTracker,
               executor) -> tuple[Any, dict[str, list[ChunkRef]]]:
    """Step 2: plan the tree and sort each spill by tile into one bucket file; returns
    the plan and each tile's bucket parts (in spill order). Resumable: the index
    ``partition.json`` is written last."""
    tree = plan(state, budget)
    index = work / PARTITION_INDEX
    if index.exists():
        return tree, json.loads(index.read_text())
    buckets = work / "buckets"
    shutil.rmtree(buckets, ignore_errors=True)
    buckets.mkdir(parents=True)
    tracker.update(phase="partitioning")
    spills = sorted((work / "spill").glob("*.chk"))
    futures = [executor.submit(bucket_spill, str(spill), tree, str(buckets), number)
               for number, spill in enumerate(spills)]
    inputs: dict[str, list[ChunkRef]] = {}
    for future in futures:
        for key, ref in task_result(future).items():
            inputs.setdefault(key, []).append(list(ref))
    write_atomic(index, json.dumps(inputs).encode())
    return tree, inputs


def schedule(plan, inputs: dict[str, list[ChunkRef]], context, executor, tracker,
             workers: int) -> TileNode:
    """Step 3: build leaves, then parents level by level (deepest first); the root.

    With worker processes, the tiles of a level go to tasks in batches of up to
    ``MAX_TILES_PER_TASK`` (still ``TASKS_PER_WORKER`` tasks per worker), so small tiles
    do not pay a task's pickling and scheduling each."""
    nodes = plan.nodes
    filled = set(inputs)
    alive = set(filled)
    for node in sorted(nodes, key=lambda n: -n.level):
        if any(nodes[c].key in alive for c in node.children):
            alive.add(node.key)
    tracker.update(phase="tiling", tiles=0, tiles_total=len(alive))
    built: dict[str, TileNode] = {}
    leaves = [n for n in nodes if n.is_leaf and n.key in filled]
    # ADD trees hold features in internal tiles too (their own bucket files)
    waves = [leaves] + [[n for n in nodes if not n.is_leaf and n.level == level
                         and n.key in alive] for level in range(plan.depth - 1, -1, -1)]
    for wave in waves:
        futures = []
        for batch in _batches(wave, workers):
            jobs = [(node.key, inputs.get(node.key, []), _children(node, nodes, built))
                    for node in batch]
            futures.append(executor.submit(build_nodes, context, jobs))
        for future in cf.as_completed(futures):
            for tile in task_result(future):
                built[tile.key] = tile
            tracker.update(tiles=len(built))
        tracker.update(force=True, tiles=len(built))  # one event per finished level
    return built[nodes[0].key]


def _children(node, nodes, built: dict[str, TileNode]) -> list[TileNode]:
    """The built, non-empty children of ``node``."""
    kids = (built.get(nodes[c].key) for c in node.children)
    return [k for k in kids if k is not None and k.bounds is not None]


def _batches(wave: list, workers: int) -> list[list]:
    """``wave`` cut into task batches (one tile per task in-process)."""
    size = 1
    if workers > 1:
        size = max(1, min(MAX_TILES_PER_TASK, len(wave) // (TASKS_PER_WORKER * workers)))
    return [wave[i:i + size] for i in range(0, len(wave), size)]
