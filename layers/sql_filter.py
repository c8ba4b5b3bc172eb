"""A CQL2 AST (:mod:`layers.cql2`) or a query's parts -> an SQL WHERE clause and parameters.

The same compiler serves SQLite (GeoPackage) and PostGIS; they differ only in the
placeholder and in how a spatial predicate is written, which the store passes in as
``spatial(op, geometry) -> (sql, params)``. Dates are stored as ISO 8601 text, so
temporal predicates compare text (a date sorts before the timestamps of that day).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from layers.errors import LayerError

#: Names a filter may use for the feature geometry.
GEOMETRY_NAMES = ("geometry", "geom", "the_geom")
_FAR_FUTURE = "9999-12-31T23:59:59Z"
_INVERSE = {"S_WITHIN": "S_CONTAINS", "S_CONTAINS": "S_WITHIN"}


@dataclass
class FilterContext:
    """What the compiler needs to know about one table and one SQL dialect."""

    columns: tuple[str, ...]
    placeholder: str
    spatial: Callable[[str, Any], tuple[str, list[Any]]]
    layer_id: str = ""

    def column(self, name: str) -> str:
        if name not in self.columns:
            raise LayerError(f"filter: {name!r} is not a queryable of layer {self.layer_id!r}; "
                             f"queryables: {', '.join(self.columns) or '(none)'}, geometry "
                             f"(GET /ogc/collections/{self.layer_id}/queryables)")
        return f't."{name}"'


def compile_filter(node: tuple, ctx: FilterContext) -> tuple[str, list[Any]]:
    """SQL boolean expression (aliasing the feature table as ``t``) and its parameters."""
    kind = node[0]
    if kind in ("and", "or"):
        parts = [compile_filter(n, ctx) for n in node[1]]
        joiner = " AND " if kind == "and" else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]
    if kind == "not":
        sql, params = compile_filter(node[1], ctx)
        return f"(NOT {sql})", params
    if kind == "cmp":
        (a, pa), (b, pb) = _value(node[2], ctx), _value(node[3], ctx)
        return f"({a} {node[1]} {b})", pa + pb
    if kind == "like":
        a, pa = _value(node[1], ctx)
        op = "NOT LIKE" if node[3] else "LIKE"
        return f"(CAST({a} AS TEXT) {op} {ctx.placeholder} ESCAPE '\\')", pa + [node[2]]
    if kind == "in":
        a, pa = _value(node[1], ctx)
        values = [_value(v, ctx) for v in node[2]]
        op = "NOT IN" if node[3] else "IN"
        return (f"({a} {op} ({', '.join(v[0] for v in values)}))",
                pa + [p for v in values for p in v[1]])
    if kind == "between":
        (a, pa), (lo, pl), (hi, ph) = (_value(n, ctx) for n in node[1:4])
        op = "NOT BETWEEN" if node[4] else "BETWEEN"
        return f"({a} {op} {lo} AND {hi})", pa + pl + ph
    if kind == "isnull":
        a, pa = _value(node[1], ctx)
        return f"({a} IS {'NOT ' if node[2] else ''}NULL)", pa
    if kind == "spatial":
        return _spatial(node[1], node[2], node[3], ctx)
    if kind == "temporal":
        return _temporal(node[1], node[2], node[3], ctx)
    raise LayerError(f"filter: {kind!r} cannot be used as a condition")


def _value(node: tuple, ctx: FilterContext) -> tuple[str, list[Any]]:
    if node[0] == "prop":
        return ctx.column(node[1]), []
    if node[0] in ("lit", "time"):
        return ctx.placeholder, [node[1]]
    raise LayerError("filter: a geometry can only be used in S_* functions")


def _spatial(op: str, a: tuple, b: tuple, ctx: FilterContext) -> tuple[str, list[Any]]:
    if a[0] == "geom" and b[0] == "prop":
        a, b, op = b, a, _INVERSE.get(op, op)
    if a[0] == "geom" and b[0] == "geom":
        import shapely
        test = {"S_INTERSECTS": shapely.intersects, "S_DISJOINT": shapely.disjoint,
                "S_WITHIN": shapely.within, "S_CONTAINS": shapely.contains}[op]
        return ("(1=1)" if test(a[1], b[1]) else "(1=0)"), []
    if a[0] != "prop" or b[0] != "geom":
        raise LayerError(f"filter: {op} needs the geometry property and a literal geometry")
    if a[1] not in GEOMETRY_NAMES:
        raise LayerError(f"filter: {op} compares geometries; use the property 'geometry', "
                         f"not {a[1]!r}")
    return ctx.spatial(op, b[1])


def _temporal(op: str, a: tuple, b: tuple, ctx: FilterContext) -> tuple[str, list[Any]]:
    """Interval relations of CQL2 (an instant is the interval [t, t]); None = open end."""
    guards, params = [], []
    (a_lo, a_hi), (b_lo, b_hi) = (_interval(x, ctx, guards) for x in (a, b))
    rules = {
        "T_INTERSECTS": [(a_lo, "<=", b_hi), (a_hi, ">=", b_lo)],
        "T_BEFORE": [(a_hi, "<", b_lo)],
        "T_AFTER": [(a_lo, ">", b_hi)],
        "T_DURING": [(a_lo, ">", b_lo), (a_hi, "<", b_hi)],
        "T_EQUALS": [(a_lo, "=", b_lo), (a_hi, "=", b_hi)],
    }
    negate = op == "T_DISJOINT"
    clauses = []
    for left, cmp, right in rules["T_INTERSECTS" if negate else op]:
        sql, values = _bound_compare(left, cmp, right, ctx)
        clauses.append(sql)
        params += values
    body = " AND ".join(clauses)
    body = f"NOT ({body})" if negate else body
    return "(" + " AND ".join(guards + [body]) + ")", params


def _interval(pair: tuple, ctx: FilterContext, guards: list[str]) -> tuple:
    """(low, high) bounds: ('sql', param-or-None) pairs, or ('-inf'|'+inf', None)."""
    start, end = pair
    low = ("-inf", None) if start is None else _bound(start, ctx)
    if start is not None and start[0] == "prop":
        guards.append(f"{low[0]} IS NOT NULL")
    if end is None:
        high = ("+inf", None)
    elif end[0] == "prop" and end != start:  # an empty end property: still going on
        column = ctx.column(end[1])
        high = (f"COALESCE({column}, {ctx.placeholder})", _FAR_FUTURE)
    else:
        high = _bound(end, ctx)
    return low, high


def _bound(node: tuple, ctx: FilterContext) -> tuple[str, Any]:
    if node[0] == "prop":
        return ctx.column(node[1]), None
    return ctx.placeholder, node[1]


def _bound_compare(left: tuple, op: str, right: tuple, ctx: FilterContext
                   ) -> tuple[str, list[Any]]:
    infinite = {"-inf": -1, "+inf": 1}
    if left[0] in infinite or right[0] in infinite:
        lv, rv = infinite.get(left[0], 0), infinite.get(right[0], 0)
        truth = {"<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv, "=": False}[op]
        if lv == rv == 0:  # unreachable: one side is infinite
            truth = False
        return ("1=1" if truth else "1=0"), []
    params = [v for v in (left[1], right[1]) if v is not None]
    return f"{left[0]} {op} {right[0]}", params


def sort_clause(sortby: list[tuple[str, bool]] | None, columns: tuple[str, ...],
                layer_id: str) -> str:
    """ORDER BY for sortby=[(name, ascending)], feature id last so pages are stable."""
    parts = []
    for name, ascending in sortby or []:
        if name not in columns:
            raise LayerError(f"sortby: {name!r} is not a property of layer {layer_id!r}; "
                             f"it has: {', '.join(columns)}")
        parts.append(f't."{name}" {"ASC" if ascending else "DESC"}')
    return ", ".join(parts + ["t.fid"])
