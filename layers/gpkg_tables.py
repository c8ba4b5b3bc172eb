"""GeoPackage table plumbing: create the file, move a staged table in, drop a table.

GDAL (through pyogrio) writes each new layer into its own staging GeoPackage; the
main file is only ever opened by Python's sqlite3. Two SQLite libraries (GDAL's and
Python's) on one file in one process release each other's POSIX locks and corrupt
it, so they never share a file. Moving a staged table in is one SQLite transaction:
a layer appears whole or not at all.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from layers.errors import LayerError

_REGISTRIES = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection (reads never hold an old snapshot) with the GeoPackage
    functions registered and LIKE case-sensitive, as CQL2 wants it."""
    from layers.gpkg_geometry import register_functions
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    register_functions(db)
    db.execute("PRAGMA case_sensitive_like = ON")
    return db


def create_geopackage(path: Path) -> None:
    """An empty, valid GeoPackage in WAL mode at ``path`` (made aside, then renamed in)."""
    import geopandas as gpd
    import pyogrio
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.gpkg")
    seed = gpd.GeoDataFrame({"x": [1]}, geometry=gpd.points_from_xy([0], [0]), crs="OGC:CRS84")
    pyogrio.write_dataframe(seed, tmp, layer="cimtwin_seed", driver="GPKG")
    db = connect(tmp)
    try:
        db.execute("BEGIN IMMEDIATE")
        drop_table(db, "cimtwin_seed")
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    if path.exists():  # another process made it meanwhile
        tmp.unlink()
    else:
        os.replace(tmp, path)


def write_staging(frame: Any, directory: Path, table: str) -> Path:
    """Write ``frame`` with GDAL into a fresh staging GeoPackage; return its path."""
    import pyogrio
    staging = directory / f".staging-{table}.gpkg"
    try:
        pyogrio.write_dataframe(frame, staging, layer=table, driver="GPKG",
                                promote_to_multi=None, layer_options={"FID": "fid"})
    except Exception as exc:  # GDAL raises several types; all mean "not written"
        staging.unlink(missing_ok=True)
        raise LayerError(f"could not write the layer: {exc}") from exc
    return staging


def copy_in(db: sqlite3.Connection, staging: Path, table: str) -> None:
    """Copy feature table ``table`` (rows, R-tree, registry rows, triggers) from ``staging``.

    Call inside an open transaction; the caller commits together with its own changes.
    """
    prefix = f"rtree_{table}_"
    schema = db.execute("SELECT type, name, sql FROM staging.sqlite_master WHERE tbl_name = ? "
                        "OR substr(name, 1, ?) = ? ORDER BY rowid",
                        (table, len(prefix), prefix)).fetchall()
    tables = [(n, s) for t, n, s in schema if t == "table" and s and not _rtree_shadow(n, table)]
    triggers = [s for t, _, s in schema if t == "trigger"]
    db.execute("INSERT OR IGNORE INTO main.gpkg_spatial_ref_sys SELECT * FROM "
               "staging.gpkg_spatial_ref_sys WHERE srs_id IN (SELECT srs_id FROM "
               "staging.gpkg_geometry_columns WHERE table_name = ?)", (table,))
    for name, sql in tables:  # the feature table first, then its R-tree
        db.execute(sql)
        db.execute(f'INSERT INTO main."{name}" SELECT * FROM staging."{name}"')
    for registry in _REGISTRIES:
        if _has_table(db, "staging", registry) and _has_table(db, "main", registry):
            db.execute(f"INSERT INTO main.{registry} SELECT * FROM staging.{registry} "
                       "WHERE table_name = ?", (table,))
    for sql in triggers:  # after the rows: the triggers call GDAL's ST_* functions
        db.execute(sql)


def _rtree_shadow(name: str, table: str) -> bool:
    prefix = f"rtree_{table}_"
    return name.startswith(prefix) and name.rsplit("_", 1)[-1] in ("node", "rowid", "parent")


def _has_table(db: sqlite3.Connection, schema: str, name: str) -> bool:
    return db.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
                      (name,)).fetchone() is not None


def drop_table(db: sqlite3.Connection, table: str) -> None:
    """Drop a GeoPackage feature table with its R-tree and registry rows (in a transaction)."""
    rows = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                      (table,)).fetchall()
    for (column,) in rows:
        db.execute(f'DROP TABLE IF EXISTS "rtree_{table}_{column}"')
    db.execute(f'DROP TABLE IF EXISTS "{table}"')
    for registry in _REGISTRIES:
        if _has_table(db, "main", registry):
            db.execute(f"DELETE FROM {registry} WHERE table_name = ?", (table,))
