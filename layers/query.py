"""One items query, as every LayerStore backend receives it, and its WHERE clause.

Property equality filters, ``datetime``, ``bbox`` (CRS84) and a CQL2 filter are all
turned into one CQL2 AST, then into SQL by :mod:`layers.sql_filter`, so GeoPackage
and PostGIS answer exactly the same question.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layers.errors import LayerError
from layers.model import LayerInfo
from layers.sql_filter import FilterContext, compile_filter


@dataclass
class Query:
    """What to select (CRS84 bbox, filters), in which order, and which page."""

    bbox: list[float] | None = None
    limit: int = 100
    offset: int = 0
    filters: dict[str, str] = field(default_factory=dict)
    interval: tuple[str | None, str | None] | None = None
    cql: tuple | None = None
    sortby: list[tuple[str, bool]] | None = None
    properties: list[str] | None = None

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            raise LayerError("limit and offset must be >= 0")


def filter_ast(query: Query, info: LayerInfo, columns: tuple[str, ...]) -> tuple | None:
    """All of the query's conditions as one CQL2 AST (None: every feature)."""
    terms: list[tuple] = []
    for name, raw in query.filters.items():
        if name not in columns:
            raise LayerError(f"unknown property {name!r} for layer {info.id!r}; "
                             f"queryable properties: {', '.join(columns) or '(none)'}")
        terms.append(("cmp", "=", ("prop", name),
                      ("lit", typed_value(raw, info.schema.get(name, "string"), name))))
    if query.interval is not None:
        terms.append(_interval_term(query.interval, info))
    if query.bbox is not None:
        import shapely
        terms.append(("spatial", "S_INTERSECTS", ("prop", "geometry"),
                      ("geom", shapely.box(*query.bbox))))
    if query.cql is not None:
        terms.append(query.cql)
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ("and", terms)


def where_clause(query: Query, info: LayerInfo, ctx: FilterContext) -> tuple[str, list[Any]]:
    node = filter_ast(query, info, ctx.columns)
    return ("1=1", []) if node is None else compile_filter(node, ctx)


def _interval_term(interval: tuple[str | None, str | None], info: LayerInfo) -> tuple:
    if not info.temporal:
        raise LayerError(f"layer {info.id!r} has no time extent; drop the datetime parameter")
    start_col, end_col = info.temporal
    dated = info.schema.get(start_col) == "date"
    lo, hi = (None if v is None else ("time", v[:10] if dated else v) for v in interval)
    return ("temporal", "T_INTERSECTS", (("prop", start_col), ("prop", end_col)), (lo, hi))


def typed_value(raw: str, kind: str, name: str) -> Any:
    """A query string value converted to the column's type, so '3' matches 3."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[raw.lower()]
    except (ValueError, KeyError):
        raise LayerError(f"property {name!r} is a {kind}; {raw!r} is not one") from None
    return raw


def select_properties(feature: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    """Keep only the requested properties (``properties=`` of Part 3)."""
    if names is not None:
        feature["properties"] = {k: v for k, v in feature["properties"].items() if k in names}
    return feature
