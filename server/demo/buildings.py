"""About 200 building footprints with heights, placed in the demo district's blocks.

Footprints are shapely polygons in the local frame of ``layout`` (metres). Each building
carries the properties a planner clicks for: id, Chinese name, use, floors, height,
year, and the ground height it stands on (so the 3D extrusion sits on the terrain).
"""
from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from . import layout

#: Storey heights (metres) by use; a flat roof adds a parapet.
STOREY_M = {"住宅": 3.0, "办公": 4.2, "商业": 5.0, "教育": 3.9, "医疗": 4.2}
PARAPET_M = 1.2
SETBACK_M = 12.0

ESTATES = ("舜华园", "汉峪花园", "燕子山小区", "龙奥御苑", "山水华府", "和平新村",
           "历山名郡", "文苑小区", "转山西苑", "佛山苑", "甸柳新村", "千佛山庄",
           "鲁能康桥", "绿地国际城", "奥体金茂", "中建瀛园", "华润仰山", "名士豪庭",
           "阳光舜城", "东方花园", "海尔绿城", "泉城花园", "银丰玖玺")
TOWERS = ("汉峪金谷", "绿地中心", "中海环宇", "华润置地", "鲁商国奥城", "万达广场",
          "齐鲁金融中心", "中银大厦")
MALLS = ("万象城", "印象城", "恒隆广场", "银座购物中心", "和谐广场")


def _rect(x: float, y: float, w: float, d: float) -> Polygon:
    return box(x, y, x + w, y + d)


def _l_shape(x: float, y: float, w: float, d: float, arm: float) -> Polygon:
    """An L: a w x arm bar along the south and an arm x d wing along the west."""
    return Polygon([(x, y), (x + w, y), (x + w, y + arm), (x + arm, y + arm),
                    (x + arm, y + d), (x, y + d)])


def _residential(rng, x0, y0, x1, y1):
    """Rows of slab blocks facing south, spaced for winter sunlight; some lots stay green."""
    out = []
    y = y0
    while y + 16 <= y1:
        x = x0
        while x + 60 <= x1:
            if rng.random() < 0.85:
                w = float(rng.uniform(45, 62))
                floors = int(rng.choice([6, 11, 18, 26, 33], p=[.2, .3, .25, .15, .1]))
                out.append((_rect(x, y, w, float(rng.uniform(13, 16))), "住宅", floors))
            x += 95
        y += 80
    return out


def _cbd(rng, x0, y0, x1, y1):
    """Office towers on a grid, a few with an L-shaped podium mall."""
    out = []
    y = y0
    while y + 40 <= y1:
        x = x0
        while x + 40 <= x1:
            r = rng.random()
            if r < 0.6:
                side = float(rng.uniform(34, 46))
                out.append((_rect(x, y, side, side), "办公", int(rng.integers(22, 62))))
            elif r < 0.7 and x + 90 <= x1 and y + 70 <= y1:
                out.append((_l_shape(x, y, 90, 70, 30), "商业", int(rng.integers(3, 6))))
            x += 92
        y += 92
    return out


def _single(rng, use, x0, y0, x1, y1):
    """Blocks with one or two big buildings: school, hospital, mall."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if use == "school":  # teaching L to the north, sports field left free to the south
        return [(_l_shape(x0, cy, min(110, x1 - x0), min(80, y1 - cy), 22), "教育", 5),
                (_rect(x1 - 40, cy + 20, 35, 18), "教育", 3)]
    if use == "hospital":
        return [(_rect(cx - 40, cy, 80, 28), "医疗", int(rng.integers(14, 21))),
                (_l_shape(x0, y0, min(120, x1 - x0), 70, 25), "医疗", 4)]
    if use == "commercial":
        w, d = min(130.0, x1 - x0), min(90.0, y1 - y0)
        out = [(_l_shape(x0, y0, w, d, 40), "商业", int(rng.integers(3, 7)))]
        if y1 - y0 > 200:
            out.append((_rect(x0, y1 - 40, 40, 40), "办公", int(rng.integers(18, 32))))
        return out
    return []


def _placed(rng, block):
    x0, y0 = block.x0 + SETBACK_M, block.y0 + SETBACK_M
    x1, y1 = block.x1 - SETBACK_M, block.y1 - SETBACK_M
    if x1 - x0 < 40 or y1 - y0 < 40 or block.use == "park":
        return []
    if block.use == "residential":
        return _residential(rng, x0, y0, x1, y1)
    if block.use == "cbd":
        return _cbd(rng, x0, y0, x1, y1)
    return _single(rng, block.use, x0, y0, x1, y1)


def _name(use: str, block_index: int, n: int) -> str:
    if use == "住宅":
        return f"{ESTATES[block_index % len(ESTATES)]}{n}号楼"
    if use == "办公":
        return f"{TOWERS[block_index % len(TOWERS)]}{'ABCDEFGH'[(n - 1) % 8]}座"
    if use == "商业":
        return f"{MALLS[block_index % len(MALLS)]}{n}期"
    if use == "教育":
        return f"教学楼{n}号"
    return f"门诊住院楼{n}号" if n == 1 else f"医技楼{n}号"


def make_buildings(rng: np.random.Generator, keep_clear: list[Polygon]) -> list[dict]:
    """Footprints and properties of every building, avoiding ``keep_clear`` lots.

    Returns dicts with ``geometry`` (local shapely Polygon) and ``properties``.
    """
    clear = unary_union([p.buffer(5.0) for p in keep_clear]) if keep_clear else None
    out = []
    for index, block in enumerate(layout.blocks()):
        count = 0
        for poly, use, floors in _placed(rng, block):
            if clear is not None and poly.intersects(clear):
                continue
            count += 1
            ring = np.asarray(poly.exterior.coords)
            ground = float(np.min(layout.ground_height(ring[:, 0], ring[:, 1])))
            newest = 2023 if block.use == "cbd" else 2020
            oldest = 2010 if block.use == "cbd" else 1992
            out.append({"geometry": poly, "properties": {
                "id": f"B{len(out) + 1:04d}",
                "name": _name(use, index, count),
                "use": use,
                "floors": floors,
                "height_m": round(floors * STOREY_M[use] + PARAPET_M, 1),
                "year": int(rng.integers(oldest, newest + 1)),
                "ground_m": round(ground - 0.3, 2),
            }})
    return out
