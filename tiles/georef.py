"""Placing source coordinates on Earth: CRS resolution, ECEF, local ENU frames.

Every import states its frame (:class:`tiles.model.GeoFrame`); this module turns it into
Earth-centred, Earth-fixed (ECEF, WGS84/ITRF-compatible) coordinates once, in float64.
The tiling engine then works in one east-north-up (ENU) frame at the data's centre and the
root tile carries the ENU->ECEF placement, so tile contents can be float32 without jitter.

Frames understood by :func:`to_ecef`:

- any CRS pyproj understands (``"EPSG:4548"``, a PROJ string, WKT1/WKT2). For WKT, the
  parameters win over an AUTHORITY code that contradicts them (ContextCapture writes
  "EPSG:4547" on a custom Gauss-Kruger zone), because the top-level AUTHORITY is dropped
  before parsing.
- ``"ENU"`` (alias ``"LOCAL"``): a local frame in metres with ``origin = (lon, lat, h)``
  in degrees / ellipsoidal metres, x east, y north, z up at that point (IfcSite
  RefLatitude/RefLongitude, models with no projected CRS).

Heights: ``vertical="ellipsoidal"`` uses z as is; ``"orthometric"`` adds N: h = H + N,
with N from the frame's geoid model or grid per point (:mod:`tiles.geoid`, EGM96 by
default where one is configured), else the user's constant ``geoid_offset_m``.
Orthometric without either is an error, never a guess.
Geodetic datums such as CGCS2000, ETRS89 and WGS84 are treated as coincident at the
decimetre level (what PROJ does without transformation grids, which we run without).
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from tiles.errors import GeoreferenceError
from tiles.model import VERTICAL_DATUMS, GeoFrame

#: CRS names meaning "local metres east/north/up around origin=(lon, lat, h)".
LOCAL_ENU_NAMES = ("ENU", "LOCAL", "LOCAL_ENU")

_ECEF = pyproj.CRS.from_epsg(4978)
_LONLATH = pyproj.CRS.from_epsg(4979)
_WGS84_A = 6378137.0
_WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)


def _strip_top_authority(wkt: str) -> str:
    """Drop the outermost AUTHORITY[...] of a WKT1 text (the one after the last ']' nest).

    ContextCapture labels custom Transverse Mercator zones with an unrelated EPSG code;
    without the outer code pyproj can only build the CRS from the parameters.
    """
    text = wkt.strip()
    match = re.search(r',\s*(AUTHORITY|ID)\s*\[[^\[\]]*\]\s*\]\s*$', text)
    if match is None:
        return text
    return text[:match.start()] + "]"


@functools.lru_cache(maxsize=64)
def resolve_crs(text: str) -> pyproj.CRS:
    """A pyproj CRS from an EPSG code (``"EPSG:4548"`` or ``"4548"``), PROJ string or WKT.

    Raises GeoreferenceError naming what to pass when pyproj cannot understand ``text``.
    """
    if text is None or not str(text).strip():
        raise GeoreferenceError(
            "no CRS given: pass the source CRS as an EPSG code (e.g. 'EPSG:4548' for "
            "CGCS2000 / 3-degree Gauss-Kruger CM 117E), a PROJ string or WKT, or 'ENU' "
            "with origin=(lon, lat, height) for a local frame")
    raw = str(text).strip()
    if raw.upper() in LOCAL_ENU_NAMES:
        raise GeoreferenceError(
            f"'{raw}' is a local frame, not a CRS: use tiles.georef.to_ecef with a GeoFrame")
    candidate = raw
    if raw.isdigit():
        candidate = f"EPSG:{raw}"
    elif raw[:6].upper().startswith(("PROJCS", "GEOGCS", "COMPD_", "GEOCCS")):
        candidate = _strip_top_authority(raw)
    try:
        return pyproj.CRS.from_user_input(candidate)
    except CRSError as exc:
        raise GeoreferenceError(
            f"cannot resolve the CRS {raw[:120]!r}: {exc}. Pass an EPSG code such as "
            "'EPSG:4548', a PROJ string ('+proj=tmerc ...') or the WKT from the data's "
            "metadata (ContextCapture: metadata.xml <SRS>)") from exc


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    """The horizontal part of a compound CRS (heights are handled by the GeoFrame)."""
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    return crs


@functools.lru_cache(maxsize=64)
def _transformer_to_lonlat(crs_text: str) -> pyproj.Transformer:
    crs = _horizontal(resolve_crs(crs_text))
    if crs.is_geocentric:
        raise GeoreferenceError(
            f"{crs.name} is geocentric; pass ECEF data with crs='EPSG:4978' handled as "
            "is, or a projected/geographic CRS")
    return pyproj.Transformer.from_crs(crs, _LONLATH.geodetic_crs, always_xy=True)


def local_to_world(positions: np.ndarray, frame: GeoFrame) -> np.ndarray:
    """``origin + scale * Rz(rotation) @ local`` in float64 (CRS easting, northing, height)."""
    pts = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    angle = np.radians(frame.rotation_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    out = np.empty_like(pts)
    out[:, 0] = frame.scale * (cos * pts[:, 0] - sin * pts[:, 1])
    out[:, 1] = frame.scale * (sin * pts[:, 0] + cos * pts[:, 1])
    out[:, 2] = frame.scale * pts[:, 2]
    return out


def _check_vertical(frame: GeoFrame) -> None:
    """Raise if the heights' datum is unclear (orthometric without a geoid or N)."""
    if frame.vertical not in VERTICAL_DATUMS:
        raise GeoreferenceError(
            f"unknown vertical datum {frame.vertical!r}: pass vertical='ellipsoidal' or "
            "vertical='orthometric' with a geoid or geoid_offset_m")
    if frame.vertical == "orthometric" and not frame.geoid and (
            not frame.geoid_offset_m or not np.isfinite(frame.geoid_offset_m)):
        raise GeoreferenceError(
            "heights are orthometric but no geoid was given: pass geoid='egm96' (or a "
            "site geoid grid), or geoid_offset_m=N (ellipsoidal = orthometric + N; about "
            "-2 to -9 m in eastern China, check the site's survey report), or declare "
            "vertical='ellipsoidal' if the heights already are")


def geoid_offsets(frame: GeoFrame, lon, lat) -> np.ndarray | float:
    """N to add to each height (ellipsoidal = orthometric + N); 0 for ellipsoidal data.

    A geoid model or grid (:mod:`tiles.geoid`) gives N per point; without one the
    frame's constant ``geoid_offset_m`` is used.
    """
    _check_vertical(frame)
    if frame.vertical != "orthometric":
        return 0.0
    if frame.geoid:
        from tiles.geoid import undulation
        return undulation(lon, lat, frame.geoid)
    return float(frame.geoid_offset_m)


def lonlatheight_to_ecef(lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Geodetic (degrees, ellipsoidal metres, WGS84 ellipsoid) -> ECEF metres, (N, 3)."""
    lam, phi = np.radians(lon), np.radians(lat)
    sin_phi = np.sin(phi)
    n = _WGS84_A / np.sqrt(1.0 - _WGS84_E2 * sin_phi * sin_phi)
    out = np.empty((np.size(lon), 3), dtype=np.float64)
    out[:, 0] = (n + h) * np.cos(phi) * np.cos(lam)
    out[:, 1] = (n + h) * np.cos(phi) * np.sin(lam)
    out[:, 2] = (n * (1.0 - _WGS84_E2) + h) * sin_phi
    return out


def to_lonlatheight(positions: np.ndarray, frame: GeoFrame) -> np.ndarray:
    """Source positions -> (N, 3) lon, lat (degrees) and ellipsoidal height (metres)."""
    _check_vertical(frame)
    world = local_to_world(positions, frame)
    if str(frame.crs).strip().upper() in LOCAL_ENU_NAMES:
        lon0, lat0, h0 = (float(v) for v in frame.origin)
        if not (-180 <= lon0 <= 180 and -90 <= lat0 <= 90):
            raise GeoreferenceError(
                f"local ENU frame origin {frame.origin} is not (lon, lat, height) in "
                "degrees: pass origin=(longitude, latitude, height)")
        origin = lonlatheight_to_ecef(np.array([lon0]), np.array([lat0]), np.array([h0]))[0]
        world[:, 2] += np.asarray(geoid_offsets(frame, lon0, lat0)).reshape(-1)[0]
        ecef = enu_to_ecef_points(world, origin)
        return ecef_to_lonlatheight(ecef)
    world += np.asarray(frame.origin, dtype=np.float64)
    transformer = _transformer_to_lonlat(str(frame.crs))
    lon, lat = transformer.transform(world[:, 0], world[:, 1])
    out = np.column_stack([lon, lat, world[:, 2]])
    if not np.all(np.isfinite(out)):
        raise GeoreferenceError(
            f"coordinates fall outside the CRS {resolve_crs(str(frame.crs)).name!r}: check "
            "the CRS, the origin and the axis order (x must be east, y north)")
    out[:, 2] += geoid_offsets(frame, out[:, 0], out[:, 1])
    return out


def to_ecef(positions: np.ndarray, frame: GeoFrame) -> np.ndarray:
    """Source positions in ``frame`` -> (N, 3) float64 ECEF metres."""
    llh = to_lonlatheight(positions, frame)
    return lonlatheight_to_ecef(llh[:, 0], llh[:, 1], llh[:, 2])


def ecef_to_lonlatheight(ecef: np.ndarray) -> np.ndarray:
    """(N, 3) ECEF -> (N, 3) lon, lat (degrees), ellipsoidal height (metres), WGS84."""
    pts = np.asarray(ecef, dtype=np.float64).reshape(-1, 3)
    transformer = _ecef_transformer()
    lon, lat, h = transformer.transform(pts[:, 0], pts[:, 1], pts[:, 2])
    return np.column_stack([lon, lat, h])


@functools.lru_cache(maxsize=1)
def _ecef_transformer() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_ECEF, _LONLATH, always_xy=True)


def enu_basis(ecef_origin: np.ndarray) -> np.ndarray:
    """(3, 3) rows east, north, up (unit vectors in ECEF) at an ECEF point."""
    x, y, z = (float(v) for v in np.asarray(ecef_origin, dtype=np.float64).reshape(3))
    lon, lat, _ = _ecef_transformer().transform(x, y, z)
    lam, phi = np.radians(lon), np.radians(lat)
    east = np.array([-np.sin(lam), np.cos(lam), 0.0])
    north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    return np.vstack([east, north, up])


def enu_to_ecef_matrix(ecef_origin: np.ndarray) -> np.ndarray:
    """4x4 (row-major numpy) matrix taking ENU metres at ``ecef_origin`` to ECEF."""
    basis = enu_basis(ecef_origin)
    mat = np.eye(4)
    mat[:3, :3] = basis.T
    mat[:3, 3] = np.asarray(ecef_origin, dtype=np.float64).reshape(3)
    return mat


def ecef_to_enu_points(ecef: np.ndarray, ecef_origin: np.ndarray) -> np.ndarray:
    """ECEF points -> ENU metres at ``ecef_origin`` (float64)."""
    basis = enu_basis(ecef_origin)
    # a contiguous right operand: matmul with the transposed view skips BLAS (5x slower)
    rotation = np.ascontiguousarray(basis.T)
    return (np.asarray(ecef, dtype=np.float64) - np.asarray(ecef_origin).reshape(1, 3)) @ rotation


def enu_to_ecef_points(enu: np.ndarray, ecef_origin: np.ndarray) -> np.ndarray:
    """ENU metres at ``ecef_origin`` -> ECEF points (float64)."""
    basis = enu_basis(ecef_origin)
    return np.asarray(enu, dtype=np.float64) @ basis + np.asarray(ecef_origin).reshape(1, 3)


def column_major(matrix: np.ndarray) -> list[float]:
    """A 4x4 numpy matrix as the 16 column-major numbers 3D Tiles' ``transform`` wants."""
    return [float(v) for v in np.asarray(matrix, dtype=np.float64).T.reshape(-1)]


def read_contextcapture_srs(metadata_xml: str) -> GeoFrame:
    """GeoFrame from a ContextCapture ``metadata.xml`` text (SRS WKT/EPSG + SRSOrigin).

    Readers own file parsing; this helper exists so the georeference rule (parameters win
    over the AUTHORITY code) lives in one place and is tested with the real file.
    """
    srs = re.search(r"<SRS>(.*?)</SRS>", metadata_xml, re.S)
    if srs is None:
        raise GeoreferenceError("metadata.xml has no <SRS>: pass the CRS explicitly")
    origin = re.search(r"<SRSOrigin>(.*?)</SRSOrigin>", metadata_xml, re.S)
    values = (0.0, 0.0, 0.0)
    if origin is not None:
        values = tuple(float(v) for v in origin.group(1).replace(" ", "").split(","))
        if len(values) == 2:
            values = (values[0], values[1], 0.0)
    crs = srs.group(1).strip()
    if crs.upper().startswith("ENU:"):
        lat, lon = (float(v) for v in crs[4:].split(","))
        if any(values[:2]):
            raise GeoreferenceError(
                "ENU production with a non-zero SRSOrigin: re-export with a projected "
                "SRS, or pass GeoFrame(crs='ENU', origin=(lon, lat, h)) of the offset point")
        return GeoFrame(crs="ENU", origin=(lon, lat, values[2]))
    resolve_crs(crs)
    return GeoFrame(crs=crs, origin=values)
