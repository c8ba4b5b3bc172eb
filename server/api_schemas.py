"""JSON Schemas of the API's bodies, declared by the views (``server.openapi.describe``).

Small on purpose: the fields a client relies on; ``additionalProperties`` stays open so
a field added later does not break a client."""
from __future__ import annotations

OBJECT = {"type": "object"}
TEXT = {"type": "string"}
ANY_JSON = {}


def obj(required: tuple[str, ...] = (), **properties) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, \
    {"type": "boolean"}
STRS = array(STR)
LEVEL = {"type": "string", "enum": ["public", "internal", "restricted"]}
TILESET = obj(("id", "name", "kind", "classification", "url"), id=STR, name=STR, kind=STR,
              classification=LEVEL, created=STR, url=STR, bounds=ANY_JSON, height=ANY_JSON)
JOB = obj(("id", "kind", "state"), id=STR, kind=STR,
          state={"type": "string", "enum": ["queued", "running", "done", "failed"]},
          params=OBJECT, progress=ANY_JSON, result=ANY_JSON, error={"type": ["string", "null"]},
          created=STR, updated=STR)
IMPORT_FORM = obj(("file",), file={"type": "string", "contentMediaType":
                                   "application/octet-stream"},
                  size=INT, sha256=STR)
PRINCIPAL = obj(("name", "via", "levels", "actions"), name=STR, role={"type": ["string", "null"]},
                via=STR, levels=STRS, actions=STRS, csrf=STR)
LOGIN = obj(("username", "password"), username=STR, password=STR)
TOKEN = obj(("id", "scopes"), id=STR, user=STR, scopes=STRS, note=STR, created=STR,
            expires={"type": ["string", "null"]}, revoked={"type": ["string", "null"]})
TOKEN_REQUEST = obj(("scopes",), scopes=STRS, note=STR)
SHARE = obj(("id", "kind", "dataset"), id=STR, kind=STR, dataset=STR, expires=STR, url=STR,
            token=STR)
SHARE_REQUEST = obj(("dataset",), dataset=STR, kind={"type": "string",
                                                     "enum": ["tileset", "layer"]},
                    expires=STR, note=STR)
CLASSIFICATION = obj(("classification",), classification=LEVEL)
FEATURE = obj(("type",), type={"const": "Feature"}, id=ANY_JSON, geometry=ANY_JSON,
              properties=OBJECT)
FEATURES = obj(("type", "features"), type={"const": "FeatureCollection"},
               features=array(FEATURE))
OBSERVATION = obj(("datastream", "value"), datastream=STR, sensor_id=STR, metric=STR,
                  value=NUM, unit=STR, time=STR, quality=STR, level={"type": ["string", "null"]},
                  alarm=BOOL)
INGEST = {"oneOf": [OBJECT, array(OBJECT), obj(("observations",),
                                               observations=array(OBJECT))]}
INGESTED = obj(("received", "stored", "duplicates"), received=INT, stored=INT,
               duplicates=INT)
ALARM = obj(("id", "datastream", "level"), id=INT, datastream=STR, level=STR, state=STR,
            ack=ANY_JSON)
RULE = obj(("datastream",), id=INT, datastream=STR, op=STR, threshold=NUM, level=STR)
EVENT = obj(("id", "type", "time", "data"), id=INT, type=STR, time=STR, level=LEVEL,
            data=OBJECT)
