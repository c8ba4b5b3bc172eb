"""CQL2 text (OGC API - Features Part 3) parsed into a small tuple AST.

Supported: comparison (= <> < > <= >=), AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL,
S_INTERSECTS/S_DISJOINT/S_WITHIN/S_CONTAINS with BBOX(...) or WKT geometries, and
T_INTERSECTS/T_DURING/T_BEFORE/T_AFTER/T_EQUALS/T_DISJOINT on DATE, TIMESTAMP and
INTERVAL values. Nodes (see :mod:`layers.sql_filter` for their meaning in SQL):

    ("prop", name)  ("lit", value)  ("time", iso_text)  ("geom", shapely geometry)
    ("cmp", op, a, b)  ("and", [..])  ("or", [..])  ("not", x)
    ("like", a, pattern, negated)  ("in", a, [values], negated)
    ("between", a, lo, hi, negated)  ("isnull", a, negated)
    ("spatial", op, a, b)  ("temporal", op, (start, end), (start, end))
"""
from __future__ import annotations

import re
from typing import Any

from layers.errors import LayerError

SPATIAL = ("S_INTERSECTS", "S_DISJOINT", "S_WITHIN", "S_CONTAINS")
TEMPORAL = ("T_INTERSECTS", "T_DURING", "T_BEFORE", "T_AFTER", "T_EQUALS", "T_DISJOINT")
_WKT = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
        "GEOMETRYCOLLECTION")
_TOKEN = re.compile(r"""\s*(?:
    (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qid>"[^"]+")
  | (?P<op><>|<=|>=|=|<|>|\(|\)|,)
  | (?P<word>[A-Za-z_\u0080-\uffff][\w:.\u0080-\uffff]*)
)""", re.VERBOSE)


def parse(text: str) -> tuple:
    """CQL2 text -> AST; LayerError naming the position of the first problem."""
    if not text or not text.strip():
        raise LayerError("filter is empty; give a CQL2 text expression, e.g. stage = 'approved'")
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        parser.fail("unexpected text after the end of the expression")
    return node


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise LayerError(f"filter: cannot read {text[pos:pos + 20]!r} at character {pos + 1}")
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "word" and value.upper() in _WKT:
            value, end = _wkt_text(text, start)
            out.append(("wkt", value, start))
            pos = end
            continue
        out.append((kind, value, start))
        pos = match.end()
    return out


def _wkt_text(text: str, start: int) -> tuple[str, int]:
    """The WKT literal starting at ``start``: up to its balancing ')'."""
    depth, i = 0, text.index("(", start) if "(" in text[start:] else -1
    if i < 0:
        raise LayerError(f"filter: geometry at character {start + 1} has no coordinates")
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return text[start:j + 1], j + 1
    raise LayerError(f"filter: geometry at character {start + 1} is missing a ')'")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def fail(self, message: str) -> None:
        tok = self.peek()
        where = f"at character {tok[2] + 1} ({tok[1]!r})" if tok else "at the end"
        raise LayerError(f"filter: {message} {where}; see OGC CQL2 text, e.g. "
                         "stage = 'approved' AND S_INTERSECTS(geometry, BBOX(117,36,118,37))")

    def word(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return True
        return False

    def punct(self, value: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] == value:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.punct(value):
            self.fail(f"expected {value!r}")

    def expression(self) -> tuple:
        terms = [self.conjunction()]
        while self.word("OR"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def conjunction(self) -> tuple:
        terms = [self.negation()]
        while self.word("AND"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else ("and", terms)

    def negation(self) -> tuple:
        if self.word("NOT"):
            return ("not", self.negation())
        return self.predicate()

    def predicate(self) -> tuple:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] == "(":
            self.i += 1
            node = self.expression()
            self.expect(")")
            return node
        if tok and tok[0] == "word" and tok[1].upper() in SPATIAL + TEMPORAL:
            return self.function(tok[1].upper())
        left = self.scalar()
        return self.comparison(left)

    def function(self, name: str) -> tuple:
        self.i += 1
        self.expect("(")
        read = self.geometry_arg if name in SPATIAL else self.temporal_arg
        a = read()
        self.expect(",")
        b = read()
        self.expect(")")
        return ("spatial" if name in SPATIAL else "temporal", name, a, b)

    def comparison(self, left: tuple) -> tuple:
        negated = self.word("NOT")
        if self.word("LIKE"):
            pattern = self.scalar()
            if pattern[0] != "lit" or not isinstance(pattern[1], str):
                self.fail("LIKE needs a quoted pattern")
            return ("like", left, pattern[1], negated)
        if self.word("IN"):
            self.expect("(")
            values = [self.scalar()]
            while self.punct(","):
                values.append(self.scalar())
            self.expect(")")
            return ("in", left, values, negated)
        if self.word("BETWEEN"):
            low = self.scalar()
            if not self.word("AND"):
                self.fail("BETWEEN needs 'AND'")
            return ("between", left, low, self.scalar(), negated)
        if negated:
            self.fail("NOT here must be followed by LIKE, IN or BETWEEN")
        if self.word("IS"):
            negated = self.word("NOT")
            if not self.word("NULL"):
                self.fail("expected NULL")
            return ("isnull", left, negated)
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ("=", "<>", "<", ">", "<=", ">="):
            self.i += 1
            return ("cmp", tok[1], left, self.scalar())
        if left[0] == "lit" and isinstance(left[1], bool):  # a bare TRUE / FALSE
            return ("cmp", "=", left, ("lit", True))
        self.fail("expected a comparison (=, <>, <, >, <=, >=, LIKE, IN, BETWEEN, IS NULL)")

    def scalar(self) -> tuple:
        tok = self.peek()
        if tok is None:
            self.fail("expected a value")
        kind, value, _ = tok
        self.i += 1
        if kind == "num":
            return ("lit", float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "qid":
            return ("prop", value[1:-1])
        if kind == "word":
            upper = value.upper()
            if upper in ("TRUE", "FALSE"):
                return ("lit", upper == "TRUE")
            if upper in ("DATE", "TIMESTAMP"):
                return self.instant(upper)
            return ("prop", value)
        self.i -= 1
        self.fail("expected a value")

    def instant(self, kind: str) -> tuple:
        self.expect("(")
        tok = self.peek()
        if not tok or tok[0] != "str":
            self.fail(f"{kind} needs a quoted date, e.g. {kind}('2024-06-30')")
        self.i += 1
        self.expect(")")
        return ("time", _iso(tok[1][1:-1], kind))

    def geometry_arg(self) -> tuple:
        tok = self.peek()
        if tok and tok[0] == "wkt":
            self.i += 1
            return ("geom", _wkt(tok[1]))
        if tok and tok[0] == "word" and tok[1].upper() == "BBOX":
            self.i += 1
            self.expect("(")
            numbers = [self.number()]
            while self.punct(","):
                numbers.append(self.number())
            self.expect(")")
            return ("geom", _bbox(numbers))
        node = self.scalar()
        if node[0] != "prop":
            self.fail("a spatial function needs a property, a WKT geometry or BBOX(...)")
        return node

    def number(self) -> float:
        tok = self.peek()
        if not tok or tok[0] != "num":
            self.fail("expected a number")
        self.i += 1
        return float(tok[1])

    def temporal_arg(self) -> tuple:
        if self.word("INTERVAL"):
            self.expect("(")
            start = self.interval_end()
            self.expect(",")
            end = self.interval_end()
            self.expect(")")
            return (start, end)
        node = self.scalar()
        if node[0] not in ("prop", "time"):
            self.fail("a temporal function needs a property, DATE(...), TIMESTAMP(...) "
                      "or INTERVAL(...)")
        return (node, node)

    def interval_end(self) -> tuple | None:
        tok = self.peek()
        if tok and tok[0] == "str":
            self.i += 1
            text = tok[1][1:-1]
            return None if text == ".." else ("time", _iso(text, "INTERVAL"))
        node = self.scalar()
        if node[0] not in ("prop", "time"):
            self.fail("an INTERVAL end must be a date, a timestamp, a property or '..'")
        return node


def _iso(text: str, kind: str) -> str:
    from datetime import date, datetime
    try:
        if kind == "DATE" or (kind == "INTERVAL" and len(text) == 10):
            return date.fromisoformat(text).isoformat()
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text
    except ValueError:
        raise LayerError(f"filter: {text!r} is not an RFC 3339 {kind.lower()} "
                         "(e.g. 2024-06-30 or 2024-06-30T08:00:00Z)") from None


def _wkt(text: str) -> Any:
    import shapely
    try:
        return shapely.from_wkt(text)
    except Exception as exc:  # shapely raises GEOSException with the GEOS message
        raise LayerError(f"filter: {text[:40]!r}... is not valid WKT ({exc})") from None


def _bbox(numbers: list[float]) -> Any:
    import shapely
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise LayerError("filter: BBOX needs 4 numbers (west, south, east, north)")
    west, south, east, north = numbers
    if west > east or south > north:
        raise LayerError("filter: BBOX must be west, south, east, north with west <= east")
    return shapely.box(west, south, east, north)
