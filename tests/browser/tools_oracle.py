"""Known answers for the tools' browser tests, computed without the viewer: the demo's
buildings as prisms (footprint x [ground, ground + height], as the demo extrudes them)
in EPSG:4548 metres, the sun's position by NOAA's solar position equations, and rays
against the prisms."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from pyproj import Proj, Transformer
from shapely.geometry import LineString, Polygon, shape

GK = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True)


def to_grid(lon: float, lat: float) -> tuple[float, float]:
    """Easting, northing (EPSG:4548) of a lon/lat."""
    return GK.transform(lon, lat)


@dataclass
class Prism:
    footprint: Polygon  # EPSG:4548 easting/northing
    ground: float
    top: float
    props: dict


def prisms(features: list[dict]) -> list[Prism]:
    """The buildings layer's features as prisms."""
    out = []
    for f in features:
        geom = shape(f["geometry"])
        parts = getattr(geom, "geoms", [geom])
        for part in parts:
            ring = [to_grid(x, y) for x, y in part.exterior.coords]
            p = f["properties"]
            out.append(Prism(Polygon(ring), p["ground_m"], p["ground_m"] + p["height_m"], p))
    return out


def convergence_deg(lon: float, lat: float) -> float:
    """Angle from true north to grid north at the point (EPSG:4548), degrees."""
    return Proj("EPSG:4548").get_factors(lon, lat).meridian_convergence


def blocked(all_prisms: list[Prism], start: np.ndarray, end: np.ndarray,
            margin: float = 0.0) -> float:
    """Lowest clearance (m) of the segment start -> end over the prisms it crosses:
    negative when a prism blocks it (by more than `margin`), +inf when it crosses none."""
    line = LineString([start[:2], end[:2]])
    length = float(np.linalg.norm(end[:2] - start[:2]))
    best = math.inf
    for prism in all_prisms:
        if not line.intersects(prism.footprint):
            continue
        inside = line.intersection(prism.footprint)
        for part in getattr(inside, "geoms", [inside]):
            for x, y in part.coords:
                s = float(np.linalg.norm(np.array([x, y]) - start[:2])) / length if length else 0
                z = start[2] + s * (end[2] - start[2])
                best = min(best, z - prism.top if z >= prism.ground - margin else math.inf)
    return best


def julian_day(when: datetime) -> float:
    return when.timestamp() / 86400.0 + 2440587.5


def sun_position(when: datetime, lon: float, lat: float) -> tuple[float, float, float]:
    """(elevation deg, azimuth deg from north, equation of time min) by NOAA's equations
    (the 'General Solar Position' spreadsheet), no refraction."""
    jc = (julian_day(when) - 2451545.0) / 36525.0
    l0 = (280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360
    m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc)
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    mr = math.radians(m)
    c = (math.sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
         + math.sin(2 * mr) * (0.019993 - 0.000101 * jc) + math.sin(3 * mr) * 0.000289)
    omega = math.radians(125.04 - 1934.136 * jc)
    app = math.radians(l0 + c - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliq = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    decl = math.asin(math.sin(obliq) * math.sin(app))
    y = math.tan(obliq / 2) ** 2
    l0r = math.radians(l0)
    eot = 4 * math.degrees(y * math.sin(2 * l0r) - 2 * e * math.sin(mr)
                           + 4 * e * y * math.sin(mr) * math.cos(2 * l0r)
                           - 0.5 * y * y * math.sin(4 * l0r) - 1.25 * e * e * math.sin(2 * mr))
    minutes = when.hour * 60 + when.minute + when.second / 60 + when.microsecond / 6e7
    tst = (minutes + eot + 4 * lon) % 1440
    ha = math.radians(tst / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    az = math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi)
                                 - math.tan(decl) * math.cos(phi))) + 180
    return 90 - math.degrees(zenith), az % 360, eot


def true_solar_to_utc(day: str, hour: float, lon: float) -> datetime:
    """UTC instant of a true-solar-time hour (the equation of time taken at that instant)."""
    midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
    guess = midnight + timedelta(hours=hour - lon / 15)
    for _ in range(3):
        eot = sun_position(guess, lon, 0.0)[2]
        guess = midnight + timedelta(minutes=hour * 60 - 4 * lon - eot)
    return guess


def sunlit_hours(all_prisms: list[Prism], lon: float, lat: float, height: float, day: str,
                 window: tuple[float, float], step_min: float = 5.0):
    """Sunlit hours at a point (lon/lat, ellipsoidal height) over a true-solar window:
    samples in the middle of each step; lit when the sun is up and no prism is in the way
    of the ray (towards the sun, 2 km long) from 0.2 m above the point."""
    start, end = (true_solar_to_utc(day, h, lon) for h in window)
    x, y = to_grid(lon, lat)
    gamma = math.radians(convergence_deg(lon, lat))
    eye = np.array([x, y, height + 0.2])
    samples, when = [], start + timedelta(minutes=step_min / 2)
    while when < end:
        elevation, azimuth, _ = sun_position(when, lon, lat)
        lit = elevation > 0
        if lit:
            grid_az = math.radians(azimuth) - gamma
            d = np.array([math.sin(grid_az) * math.cos(math.radians(elevation)),
                          math.cos(grid_az) * math.cos(math.radians(elevation)),
                          math.sin(math.radians(elevation))])
            lit = blocked(all_prisms, eye, eye + 2000 * d) > 0
        samples.append((when, elevation, azimuth, lit))
        when += timedelta(minutes=step_min)
    return sum(s[3] for s in samples) * step_min / 60, samples, start
