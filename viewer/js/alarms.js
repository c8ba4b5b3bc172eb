// alarms.js: the operators' alarm panel (DOM and data, no Cesium). Alarms are the server's
// (docs/metrics.md "Alarms API"): the open ones from /api/alarms, then every change from
// the live stream's `event: alarm`. An alarm stays listed until it clears (and then until
// someone acknowledges it); the last 24 h of raised / cleared / acknowledged events form
// the log. A click on an alarm calls back to fly to its source.

import { fetchOpenAlarms, fetchAlarmLog, acknowledgeAlarm } from "./api.js";
import { t, label, getLanguage } from "./i18n.js";

const DAY_MS = 24 * 3600 * 1000;
const LEVEL_RANK = { alarm: 2, warning: 1 };

/** A local date-time for an ISO time, short when it is today. */
export function formatTime(iso) {
  const at = new Date(iso);
  if (!Number.isFinite(at.getTime())) return "-";
  const locale = getLanguage() === "zh" ? "zh-CN" : "en-GB";
  const sameDay = at.toDateString() === new Date().toDateString();
  const options = sameDay ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false } : { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false };
  return at.toLocaleString(locale, options);
}

/** A value rounded to 2 decimals with its unit. */
function valueText(value, unit) {
  return Number.isFinite(Number(value)) ? `${Math.round(Number(value) * 100) / 100}${unit ? " " + unit : ""}` : "-";
}

/** The log event an alarm object from the stream stands for. */
export function eventOf(alarm) {
  const at = alarm.event === "cleared" ? alarm.cleared_at : alarm.event === "acknowledged" ? alarm.ack && alarm.ack.at : alarm.raised_at;
  return { alarm_id: alarm.id, event: alarm.event || "raised", at, value: alarm.event === "raised" ? alarm.raised_value : alarm.last_value, level: alarm.level, datastream: alarm.datastream, sensor_id: alarm.sensor_id, metric: alarm.metric, by: alarm.ack && alarm.ack.by };
}

/** The alarm panel: `onPick(alarm)` when an alarm is clicked; `canAcknowledge` shows the buttons. */
export class AlarmPanel {
  /** Bind to the section (#alarmPanel) holding #alarmList and #alarmLog. */
  constructor(root, { onPick = () => {}, canAcknowledge = false, nameOf = (a) => a.sensor_name || a.sensor_id } = {}) {
    Object.assign(this, { root, onPick, canAcknowledge, nameOf });
    this.list = root.querySelector("#alarmList");
    this.logList = root.querySelector("#alarmLogList");
    this.alarms = new Map(); // id -> alarm (open ones)
    this.log = []; // events of the last 24 h, oldest first
  }

  /** Load the open alarms and the 24 h log (start, and after a stream `reset`). */
  async load() {
    const [open, log] = await Promise.all([fetchOpenAlarms(), fetchAlarmLog()]);
    this.alarms = new Map(open.map((a) => [a.id, a]));
    this.log = log;
    this.render();
  }

  /** Apply one `event: alarm` of the stream (raised, cleared, acknowledged). */
  apply(alarm) {
    if (!alarm || alarm.id === undefined) return;
    const closed = !alarm.active && alarm.acknowledged;
    if (closed) this.alarms.delete(alarm.id);
    else this.alarms.set(alarm.id, alarm);
    this.log.push(eventOf(alarm));
    this.render();
  }

  /** Open alarms: active ones first, worst level, newest. */
  sorted() {
    return [...this.alarms.values()].sort((a, b) => (b.active - a.active) || (LEVEL_RANK[b.level] || 0) - (LEVEL_RANK[a.level] || 0) || String(b.raised_at).localeCompare(String(a.raised_at)));
  }

  /** How often the alarm's datastream raised an alarm in the last 24 h (at least 1). */
  countOf(alarm) {
    const since = Date.now() - DAY_MS;
    const raised = this.log.filter((e) => e.event === "raised" && e.datastream === alarm.datastream && Date.parse(e.at) >= since);
    return Math.max(1, new Set(raised.map((e) => e.alarm_id)).size);
  }

  /** Number of alarms whose condition still holds. */
  activeCount() {
    return [...this.alarms.values()].filter((a) => a.active).length;
  }

  /** Redraw the list, the log and the title-bar count. */
  render() {
    const alarms = this.sorted();
    this.list.replaceChildren(...(alarms.length ? alarms.map((a) => this.item(a)) : [Object.assign(document.createElement("li"), { className: "empty", textContent: t("alarm.none") })]));
    this.renderLog();
    const count = this.activeCount();
    this.root.querySelector("#alarmCount").textContent = count ? String(count) : "";
    document.title = `${count ? `(${count}) ` : ""}${document.title.replace(/^\(\d+\) /, "")}`;
  }

  /** One alarm: level, source, metric, value vs threshold, since when, how often; ack button. */
  item(a) {
    const li = document.createElement("li");
    li.className = `${a.level} ${a.active ? "active" : "cleared"}`;
    Object.assign(li.dataset, { alarm: a.id, sensor: a.sensor_id });
    const head = Object.assign(document.createElement("div"), { className: "head", textContent: `${label("level", a.level)} · ${this.nameOf(a)} · ${label("metric", a.metric)}` });
    const op = a.condition === "below" ? "<" : ">";
    const detail = Object.assign(document.createElement("div"), { className: "detail" });
    detail.textContent = `${valueText(a.last_value, a.unit)} ${op} ${valueText(a.threshold, a.unit)} · ${t("alarm.since")} ${formatTime(a.raised_at)} · ${t("alarm.count", { count: this.countOf(a) })}`;
    li.append(head, detail);
    if (!a.active) li.append(Object.assign(document.createElement("div"), { className: "state", textContent: `${t("alarm.cleared")} ${formatTime(a.cleared_at)}` }));
    if (a.acknowledged) li.append(Object.assign(document.createElement("div"), { className: "state", textContent: t("alarm.acknowledgedBy", { by: a.ack ? a.ack.by : "" }) }));
    else if (this.canAcknowledge) li.append(this.ackButton(a));
    li.addEventListener("click", () => this.onPick(a));
    return li;
  }

  /** The acknowledge button of an alarm (the note is optional). */
  ackButton(a) {
    const button = Object.assign(document.createElement("button"), { type: "button", className: "ack", textContent: t("alarm.acknowledge") });
    button.dataset.testid = `ack-${a.id}`;
    button.addEventListener("click", async (event) => {
      event.stopPropagation(); // acknowledging is not flying there
      button.disabled = true;
      const result = await acknowledgeAlarm(a.id, "");
      if (result.ok) this.apply({ ...result.alarm, event: "acknowledged" });
      else { button.disabled = false; button.title = result.detail; }
    });
    return button;
  }

  /** The 24 h log, newest first. */
  renderLog() {
    const since = Date.now() - DAY_MS;
    this.log = this.log.filter((e) => Date.parse(e.at) >= since);
    const rows = [...this.log].reverse().slice(0, 200).map((e) => {
      const li = Object.assign(document.createElement("li"), { className: `${e.level} ${e.event}` });
      const name = this.nameOf({ sensor_id: e.sensor_id, sensor_name: (this.alarms.get(e.alarm_id) || {}).sensor_name });
      li.textContent = `${formatTime(e.at)} ${t(`alarm.event.${e.event}`)} · ${name} · ${label("metric", e.metric)} ${valueText(e.value, "")}`;
      return li;
    });
    this.logList.replaceChildren(...rows);
    this.root.querySelector("#alarmLogCount").textContent = String(rows.length);
  }
}
