"""Alarms over HTTP (contract: docs/metrics.md "Alarms API"): open alarms, the 24 h log,
acknowledgement with a note, and rules per datastream. Hidden alarms answer 404."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from server.auth import allowed_levels, current_principal, require
from server.metrics.errors import MetricConflict, MetricError, MetricNotFound
from server.services import current_services
from server.api_schemas import ALARM, OBJECT, RULE, STR, array, obj
from server.openapi import describe

bp = Blueprint("alarms_api", __name__)


def _range():
    return current_services().metrics.time_range(request.args.get("from") or None,
                                                 request.args.get("to") or None)


@bp.get("/api/alarms")
@describe("Open alarms (or all in a time range)", tag="alarms",
          response=obj(("alarms",), alarms=array(ALARM)), scope="read:metrics",
          query={"state": "open or all", "from": "ISO time", "to": "ISO time"})
def alarms():
    """Open alarms, or with ?state=all every alarm raised in from/to (default 24 h)."""
    metrics, levels = current_services().metrics, allowed_levels()
    state = request.args.get("state", "open")
    if state not in ("open", "all"):
        raise MetricError("state must be 'open' or 'all'", field="state")
    if state == "open":
        found = metrics.store.alarms(levels, open_only=True)
    else:
        start_ms, end_ms = _range()
        found = metrics.store.alarms(levels, open_only=False, start_ms=start_ms, end_ms=end_ms)
    return jsonify({"alarms": found})


@bp.get("/api/alarms/<int:alarm_id>")
@describe("One alarm", tag="alarms", response=ALARM, scope="read:metrics")
def alarm(alarm_id: int):
    return jsonify(current_services().metrics.alarm(alarm_id, allowed_levels()))


@bp.post("/api/alarms/<int:alarm_id>/ack")
@require("acknowledge")
@describe("Acknowledge an alarm with a note", tag="alarms", body=obj(note=STR, by=STR),
          response=ALARM, errors=(409,))
def acknowledge(alarm_id: int):
    body = request.get_json(silent=True) or {}
    principal = current_principal()
    # a user acknowledges in their own name; a shared machine token may name the operator
    by = body.get("by", principal.name) if principal.via == "env" else principal.name
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise MetricError("'note' must be text of at most 2000 characters", field="note")
    if not isinstance(by, str) or not by.strip() or len(by) > 100:
        raise MetricError("'by' must be a name of at most 100 characters", field="by")
    done, found = current_services().metrics.acknowledge(alarm_id, allowed_levels(),
                                                         by.strip(), note)
    if not done:
        ack = found["ack"]
        raise MetricConflict(f"alarm {alarm_id} was already acknowledged by {ack['by']} at "
                             f"{ack['at']}; that acknowledgement is kept", field="id")
    return jsonify(found)


@bp.get("/api/alarms/log")
@describe("Alarm events (raised, acknowledged, cleared) in a time range", tag="alarms",
          response=OBJECT, scope="read:metrics")
def alarm_log():
    start_ms, end_ms = _range()
    events = current_services().metrics.store.alarm_log(allowed_levels(), start_ms, end_ms)
    return jsonify({"events": events})


@bp.get("/api/alarms/rules")
@describe("Alarm rules", tag="alarms", response=obj(("rules",), rules=array(RULE)),
          scope="read:metrics")
def rules():
    metrics, levels = current_services().metrics, allowed_levels()
    datastream = request.args.get("datastream") or None
    if datastream:
        metrics.datastream(datastream, levels)
    visible = [r.to_dict() for r in metrics.store.rules(datastream)
               if (ds := metrics.registry.find(r.datastream)) and ds.classification in levels]
    return jsonify({"rules": visible})


@bp.post("/api/alarms/rules")
@require("write")
@describe("Add an alarm rule to a datastream", tag="alarms", status=201, body=RULE, response=RULE)
def add_rule():
    rule = current_services().metrics.add_rule(request.get_json(silent=True), allowed_levels())
    return jsonify(rule.to_dict()), 201


@bp.delete("/api/alarms/rules/<int:rule_id>")
@require("write")
@describe("Delete an alarm rule", tag="alarms", status=204)
def delete_rule(rule_id: int):
    if not current_services().metrics.store.delete_rule(rule_id):
        raise MetricNotFound(f"no rule {rule_id}", field="id")
    return "", 204
