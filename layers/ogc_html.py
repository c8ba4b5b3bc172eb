"""Plain HTML views of the OGC API documents (Part 1 'html'), for people in a browser.

Each view renders the same JSON document the API returns: a title, its links, and a
table (collections, or features with their properties). Everything is escaped.
"""
from __future__ import annotations

from html import escape
from typing import Any

_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:sans-serif;margin:1.5em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;
text-align:left;vertical-align:top}}</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _links(links: list[dict[str, Any]]) -> str:
    items = "".join(f'<li><a href="{escape(link["href"])}">'
                    f'{escape(link.get("title") or link["rel"])}</a> '
                    f'({escape(link["rel"])}, {escape(link.get("type", ""))})</li>'
                    for link in links)
    return f"<ul>{items}</ul>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


def landing(doc: dict[str, Any]) -> str:
    return _PAGE.format(title=escape(doc["title"]),
                        body=f"<p>{escape(doc.get('description', ''))}</p>" + _links(doc["links"]))


def conformance(doc: dict[str, Any]) -> str:
    rows = [[escape(uri)] for uri in doc["conformsTo"]]
    return _PAGE.format(title="Conformance", body=_table(["conformance class"], rows))


def collections(doc: dict[str, Any]) -> str:
    rows = [[f'<a href="{escape(_href(c, "self"))}?f=html">{escape(c["id"])}</a>',
             _text(c["title"]), _text(c.get("kind")), _text(c.get("count")),
             f'<a href="{escape(_href(c, "items"))}?f=html">items</a>']
            for c in doc["collections"]]
    return _PAGE.format(title="Collections 图层",
                        body=_table(["id", "title", "kind", "features", ""], rows))


def collection(doc: dict[str, Any]) -> str:
    bbox = doc["extent"]["spatial"]["bbox"][0]
    rows = [[escape(name), escape(str(kind))] for name, kind in doc.get("properties", {}).items()]
    body = (f"<p>{_text(doc.get('description'))}</p><p>bbox (CRS84): {_text(bbox)}</p>"
            + _links(doc["links"]) + _table(["property", "type"], rows))
    return _PAGE.format(title=escape(doc["title"]), body=body)


def items(doc: dict[str, Any], title: str) -> str:
    features = doc["features"]
    names = sorted({k for f in features for k in (f.get("properties") or {})})
    rows = [[_text(f.get("id")), *(_text(f["properties"].get(n)) for n in names),
             _text((f.get("geometry") or {}).get("type"))] for f in features]
    body = (f"<p>numberMatched {doc['numberMatched']}, numberReturned {doc['numberReturned']}</p>"
            + _links(doc["links"]) + _table(["id", *names, "geometry"], rows))
    return _PAGE.format(title=escape(title), body=body)


def item(feature: dict[str, Any]) -> str:
    rows = [[escape(k), _text(v)] for k, v in (feature.get("properties") or {}).items()]
    geometry = feature.get("geometry") or {}
    body = (_links(feature.get("links", [])) + _table(["property", "value"], rows)
            + f"<p>geometry: {_text(geometry.get('type'))}</p>")
    return _PAGE.format(title=f"feature {_text(feature.get('id'))}", body=body)


def _href(doc: dict[str, Any], rel: str) -> str:
    return next(link["href"] for link in doc["links"] if link["rel"] == rel
                and link.get("type") != "text/html")
