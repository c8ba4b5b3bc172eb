"""The plan of the demo district: where roads, blocks and lots are, and the ground height.

Everything is in a local frame (metres, x east, y north) whose origin is ``ORIGIN`` in
CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548). The area is 2 km x 2 km around the
Lixia CBD / Hanyu Jingu (about 117.116-117.139 E, 36.649-36.667 N). The plan is fixed
(no randomness): the random parts (buildings, names) live in ``buildings.py`` and
``features.py`` and draw from a seeded generator, so every run writes the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The demo's source CRS and the local origin (easting, northing, height) in it.
CRS = "EPSG:4548"
ORIGIN = (511600.0, 4058600.0, 0.0)
#: Heights are orthometric (1985 National Height Datum), as delivered in China; the
#: build applies the configured geoid offset N, exactly as the BIM importer does.
VERTICAL = "orthometric"
#: Half the side of the square district, metres.
HALF = 1000.0

#: Road centre lines (local metres) and widths: north-south roads at x, east-west at y.
#: The 50 m east-west road at y=0 plays Jingshi Road (经十路), the district's spine.
NS_ROADS = ((-760.0, 24.0, "舜华西路"), (-360.0, 36.0, "奥体西路"), (40.0, 40.0, "凤山路"),
            (440.0, 30.0, "汉峪路"), (820.0, 24.0, "舜华东路"))
EW_ROADS = ((-780.0, 24.0, "旅游路"), (-400.0, 30.0, "经十一路"), (0.0, 50.0, "经十路"),
            (400.0, 30.0, "和平路"), (780.0, 24.0, "解放东路"))


@dataclass(frozen=True)
class Block:
    """A city block between roads: its extent, grid position and land use."""

    col: int
    row: int
    x0: float
    y0: float
    x1: float
    y1: float
    use: str  # cbd | residential | commercial | park | school | hospital

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)


#: Land use of chosen blocks by (col, row); the rest follow ``_default_use``.
_BLOCK_USES = {
    (2, 2): "cbd", (3, 2): "cbd", (2, 3): "cbd", (3, 3): "cbd",
    (1, 4): "park", (4, 1): "park", (0, 0): "park",
    (1, 1): "school", (4, 4): "school", (0, 3): "school",
    (1, 3): "hospital", (3, 0): "commercial", (3, 4): "commercial", (1, 2): "commercial",
}


def _default_use(col: int, row: int) -> str:
    return "residential"


def _intervals(roads: tuple) -> list[tuple[float, float]]:
    """The open stretches between roads (and the district edge), as (start, end)."""
    edges = [-HALF]
    for centre, width, _name in roads:
        edges += [centre - width / 2, centre + width / 2]
    edges.append(HALF)
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]


def blocks() -> list[Block]:
    """All blocks of the district, west to east, south to north."""
    out = []
    for col, (x0, x1) in enumerate(_intervals(NS_ROADS)):
        for row, (y0, y1) in enumerate(_intervals(EW_ROADS)):
            use = _BLOCK_USES.get((col, row), _default_use(col, row))
            out.append(Block(col, row, x0, y0, x1, y1, use))
    return out


def ground_height(x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Ground height (metres, orthometric: 1985 National Height Datum) at local (x, y).

    Gentle relief like the real site: the ground rises to the south towards the
    Qianfo/Kuangshan hills, with a low rise in the south-east (汉峪) and small swells.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    slope = 58.0 - 0.010 * y
    hill = 9.0 * np.exp(-((x - 620.0) ** 2 + (y + 640.0) ** 2) / (2 * 330.0 ** 2))
    swell = 1.2 * np.sin(x / 170.0) * np.cos(y / 230.0)
    return slope + hill + swell


def road_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where (x, y) lies on a road surface."""
    mask = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    for centre, width, _name in NS_ROADS:
        mask |= np.abs(x - centre) <= width / 2
    for centre, width, _name in EW_ROADS:
        mask |= np.abs(y - centre) <= width / 2
    return mask


def intersections() -> list[tuple[float, float, str]]:
    """Road crossings (x, y, Chinese name) where traffic sensors sit."""
    return [(xc, yc, f"{xn}与{yn}交叉口") for xc, _w1, xn in NS_ROADS for yc, _w2, yn in EW_ROADS]
