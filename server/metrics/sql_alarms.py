"""Alarm tables of the SQL stores: rules, their state, alarms and the alarm log.

``rule_state`` holds where each rule stands (breach pending since, open alarm, last reading);
a batch's rules are read and updated inside the batch's write transaction (rows locked on
PostgreSQL), so two server workers ingesting the same datastream never disagree.
Acknowledgements are kept on the alarm (by, at, note) and appended to the log.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from server.metrics.alarms import Rule, RuleState, evaluate
from server.metrics.observation import Observation, format_time

_RULE_COLS = "r.id, r.datastream, r.condition, r.threshold, r.hysteresis, r.for_s, r.level, r.name"
_ALARM_COLS = """a.id, a.rule_id, a.datastream, d.sensor_id, s.name, d.metric, d.unit, a.level,
    a.condition, a.threshold, a.hysteresis, a.for_s, a.raised_ms, a.raised_value, a.cleared_ms,
    a.last_value, a.last_ms, a.ack_by, a.ack_ms, a.ack_note, s.lon, s.lat, s.height,
    s.feature_type, s.feature_id, s.feature_layer, d.classification"""
_ALARM_FROM = """FROM alarms a JOIN datastreams d ON d.id = a.datastream
    JOIN sensors s ON s.id = d.sensor_id"""


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_time(ms)


def alarm_dict(row: tuple) -> dict[str, Any]:
    """The alarm object of the API (docs/metrics.md) from one ``_ALARM_COLS`` row."""
    (aid, rule_id, ds, sensor, sname, metric, unit, level, cond, thr, hyst, for_s, raised_ms,
     raised_value, cleared_ms, last_value, last_ms, ack_by, ack_ms, ack_note, lon, lat, height,
     ftype, fid, flayer, classification) = row
    return {"id": aid, "rule_id": rule_id, "datastream": ds, "sensor_id": sensor,
            "sensor_name": sname, "metric": metric, "unit": unit, "level": level,
            "condition": cond, "threshold": thr, "hysteresis": hyst, "for_s": for_s,
            "active": cleared_ms is None, "raised_at": _time(raised_ms),
            "raised_value": raised_value, "cleared_at": _time(cleared_ms),
            "last_value": last_value, "last_time": _time(last_ms),
            "acknowledged": ack_ms is not None,
            "ack": None if ack_ms is None else {"by": ack_by, "at": _time(ack_ms),
                                                 "note": ack_note},
            "location": None if lon is None else {"lon": lon, "lat": lat,
                                                  "height": height or 0.0},
            "feature": None if fid is None else {"type": ftype, "id": fid, "layer": flayer},
            "classification": classification}


class AlarmTables:
    """Mixed into :class:`server.metrics.sql_store.SqlMetricStore`."""

    def add_rule(self, rule: Rule) -> Rule:
        q = self.dialect.sql
        with self._transaction() as db:
            rule_id = db.execute(q("""INSERT INTO rules (datastream, condition, threshold,
                hysteresis, for_s, level, name) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"""),
                (rule.datastream, rule.condition, rule.threshold, rule.hysteresis,
                 rule.for_s, rule.level, rule.name)).fetchone()[0]
            db.execute(q("INSERT INTO rule_state (rule_id) VALUES (?)"), (rule_id,))
        return replace(rule, id=rule_id)

    def rules(self, datastream: str | None = None) -> list[Rule]:
        sql = f"SELECT {_RULE_COLS} FROM rules r"
        params: tuple = ()
        if datastream is not None:
            sql, params = sql + " WHERE r.datastream = ?", (datastream,)
        return [Rule(*row) for row in self._rows(sql + " ORDER BY r.id", params)]

    def delete_rule(self, rule_id: int) -> bool:
        q = self.dialect.sql
        with self._transaction() as db:
            db.execute(q("DELETE FROM rule_state WHERE rule_id = ?"), (rule_id,))
            return db.execute(q("DELETE FROM rules WHERE id = ?"), (rule_id,)).rowcount == 1

    def _evaluate_rules(self, db: Any, new: list[Observation]) -> list[dict[str, Any]]:
        """Run the batch's new readings through the rules of their datastreams (inside the
        write transaction); returns [{"event", "alarm_id"}] for alarms raised or cleared."""
        q = self.dialect.sql
        by_stream: dict[str, list[Observation]] = {}
        for o in new:
            by_stream.setdefault(o.datastream, []).append(o)
        rows = db.execute(q(f"""SELECT {_RULE_COLS}, s.pending_ms, s.alarm_id, s.last_ms
            FROM rules r JOIN rule_state s ON s.rule_id = r.id
            WHERE r.datastream IN (SELECT value FROM {self.dialect.json_texts})
            ORDER BY r.id{self.dialect.lock_rows}"""), (json.dumps(list(by_stream)),)).fetchall()
        events: list[dict[str, Any]] = []
        updates = []
        for row in rows:
            rule, before = Rule(*row[:8]), RuleState(*row[8:])
            after, actions = evaluate(rule, before, by_stream[rule.datastream])
            current = self._apply(db, rule, before.alarm_id, actions, events) if actions \
                else before.alarm_id
            if (after.pending_ms, current, after.last_ms) != tuple(row[8:]):
                updates.append((after.pending_ms, current, after.last_ms, rule.id))
        if updates:
            self._update_rule_states(db, updates)
        return events

    def _apply(self, db: Any, rule: Rule, current: int | None,
               actions: list[tuple[str, Observation]], events: list[dict]) -> int | None:
        q = self.dialect.sql
        for n, (action, obs) in enumerate(actions):
            if action == "touch" and n + 1 < len(actions) and actions[n + 1][0] == "touch":
                continue  # only the last of a run of readings updates the alarm
            if action == "raise":
                current = db.execute(q("""INSERT INTO alarms (rule_id, datastream, level,
                    condition, threshold, hysteresis, for_s, raised_ms, raised_value,
                    last_value, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"""),
                    (rule.id, rule.datastream, rule.level, rule.condition, rule.threshold,
                     rule.hysteresis, rule.for_s, obs.time_ms, obs.value, obs.value,
                     obs.time_ms)).fetchone()[0]
                self._log(db, current, "raised", obs.time_ms, obs.value)
                events.append({"event": "raised", "alarm_id": current})
            elif action == "clear" and current is not None:
                db.execute(q("UPDATE alarms SET cleared_ms = ?, last_value = ?, last_ms = ? "
                             "WHERE id = ?"), (obs.time_ms, obs.value, obs.time_ms, current))
                self._log(db, current, "cleared", obs.time_ms, obs.value)
                events.append({"event": "cleared", "alarm_id": current})
                current = None
            elif action == "touch" and current is not None:
                db.execute(q("UPDATE alarms SET last_value = ?, last_ms = ? WHERE id = ?"),
                           (obs.value, obs.time_ms, current))
        return current

    def _log(self, db: Any, alarm_id: int, event: str, at_ms: int, value: float | None,
             by: str | None = None, note: str | None = None) -> None:
        db.execute(self.dialect.sql("""INSERT INTO alarm_events (alarm_id, event, at_ms, value,
            by_name, note) VALUES (?, ?, ?, ?, ?, ?)"""), (alarm_id, event, at_ms, value, by, note))

    def alarms(self, levels: set[str], *, open_only: bool, start_ms: int | None = None,
               end_ms: int | None = None, alarm_id: int | None = None) -> list[dict[str, Any]]:
        """Visible alarms, newest first: open ones (not both cleared and acknowledged), or
        those raised in [start, end], or one by id."""
        where, params = [f"d.classification IN ({', '.join('?' * len(levels)) or 'NULL'})"], \
            sorted(levels)
        if open_only:
            where.append("(a.cleared_ms IS NULL OR a.ack_ms IS NULL)")
        if start_ms is not None:
            where.append("a.raised_ms BETWEEN ? AND ?")
            params += [start_ms, end_ms]
        if alarm_id is not None:
            where.append("a.id = ?")
            params.append(alarm_id)
        rows = self._rows(f"SELECT {_ALARM_COLS} {_ALARM_FROM} WHERE {' AND '.join(where)} "
                          "ORDER BY a.raised_ms DESC, a.id DESC", params)
        return [alarm_dict(row) for row in rows]

    def alarm_log(self, levels: set[str], start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Alarm events (raised, cleared, acknowledged) in [start, end], oldest first."""
        marks = ", ".join("?" * len(levels)) or "NULL"
        rows = self._rows(f"""SELECT e.alarm_id, e.event, e.at_ms, e.value, e.by_name, e.note,
            a.level, a.datastream, d.sensor_id, d.metric FROM alarm_events e
            JOIN alarms a ON a.id = e.alarm_id JOIN datastreams d ON d.id = a.datastream
            WHERE d.classification IN ({marks}) AND e.at_ms BETWEEN ? AND ?
            ORDER BY e.at_ms, e.id""", [*sorted(levels), start_ms, end_ms])
        out = []
        for aid, event, at, value, by, note, level, ds, sensor, metric in rows:
            item = {"alarm_id": aid, "event": event, "at": format_time(at), "value": value,
                    "level": level, "datastream": ds, "sensor_id": sensor, "metric": metric}
            if event == "acknowledged":
                item.update(by=by, note=note)
            out.append(item)
        return out

    def acknowledge(self, alarm_id: int, by: str, note: str, now_ms: int) -> bool:
        """Record the first acknowledgement; False when the alarm already has one."""
        q = self.dialect.sql
        with self._transaction() as db:
            done = db.execute(q("UPDATE alarms SET ack_by = ?, ack_ms = ?, ack_note = ? "
                                "WHERE id = ? AND ack_ms IS NULL"),
                              (by, now_ms, note, alarm_id)).rowcount == 1
            if done:
                self._log(db, alarm_id, "acknowledged", now_ms, None, by, note)
        return done
