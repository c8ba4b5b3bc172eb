// charts.js: the sensor history chart of the inspector as a tool that answers questions:
// pick a metric, pick 1 h / 24 h / 7 d (bucketed by the server), read it against the
// warning and alarm thresholds, with the alarms of that time marked. DOM + fetch only;
// drawing is chart.js.

import { fetchMetricHistory, fetchAlarmEventsSince } from "./api.js";
import { drawHistory } from "./chart.js";
import { historyFrom } from "./metrics.js";
import { t, label } from "./i18n.js";

/** The chart's time ranges: hours shown and the server bucket in seconds (~60-170 points). */
export const RANGES = { "1h": { hours: 1, bucketS: 60 }, "24h": { hours: 24, bucketS: 900 }, "7d": { hours: 168, bucketS: 3600 } };

/** One sensor's chart: metric picker, range buttons and the canvas. */
export class SensorChart {
  /** Bind to the controls container and the canvas; `unitOf(sensorId, metric)` from the registry. */
  constructor(controls, canvas, { unitOf = () => "" } = {}) {
    this.controls = controls;
    this.canvas = canvas;
    this.unitOf = unitOf;
    this.range = "24h";
    this.state = null; // what is drawn: {sensorId, metric, range, points, unit, thresholds, alarmTimes}
    this.loading = 0;
  }

  /** Show the chart of `sensorId` for its `metrics` (the current metric kept when it has it). */
  async open(sensorId, metrics) {
    const keep = this.state && this.state.sensorId === sensorId && metrics.includes(this.metric);
    this.sensorId = sensorId;
    this.metrics = metrics;
    this.metric = keep ? this.metric : metrics[0];
    this.renderControls();
    return this.load();
  }

  /** Hide the chart and its controls (another kind of thing is inspected). */
  close() {
    this.sensorId = null;
    this.state = null;
    this.controls.hidden = true;
    this.canvas.hidden = true;
  }

  /** The metric picker and the range buttons, in the current language. */
  renderControls() {
    const select = document.createElement("select");
    select.id = "chartMetric";
    select.title = t("chart.metric");
    for (const metric of this.metrics) {
      const unit = this.unitOf(this.sensorId, metric);
      select.append(new Option(`${label("metric", metric)}${unit ? ` (${unit})` : ""}`, metric, false, metric === this.metric));
    }
    select.addEventListener("change", () => { this.metric = select.value; this.load(); });
    const buttons = Object.keys(RANGES).map((range) => {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: t(`chart.range.${range}`) });
      button.dataset.range = range;
      button.classList.toggle("active", range === this.range);
      button.addEventListener("click", () => { this.range = range; this.renderControls(); this.load(); });
      return button;
    });
    const ranges = Object.assign(document.createElement("span"), { className: "chart-ranges" });
    ranges.append(...buttons);
    this.controls.replaceChildren(select, ranges);
    this.controls.hidden = !this.sensorId;
  }

  /** Fetch the bucketed history and the alarm events of the range, then draw; resolves to
   * the number of points drawn. A late answer for an older choice is dropped. */
  async load() {
    const ask = ++this.loading;
    const { sensorId, metric, range } = this;
    const { hours, bucketS } = RANGES[range];
    const [body, events] = await Promise.all([fetchMetricHistory(sensorId, metric, hours, bucketS), fetchAlarmEventsSince(hours)]);
    if (ask !== this.loading || sensorId !== this.sensorId) return this.state ? this.state.points.length : 0;
    const to = Date.now();
    this.state = {
      sensorId, metric, range, from: to - hours * 3600 * 1000, to,
      points: historyFrom(body, sensorId, metric),
      unit: (body && body.unit) || this.unitOf(sensorId, metric),
      bucket: (body && body.bucket) || null, // the server's bucket size (s), echoed
      thresholds: (body && body.thresholds) || null,
      alarmTimes: events.filter((e) => e.event === "raised" && e.sensor_id === sensorId && e.metric === metric).map((e) => Date.parse(e.at)),
    };
    return this.draw();
  }

  /** A live reading of the charted sensor and metric: add it (and its alarm) and redraw. */
  push(observation) {
    const s = this.state;
    if (!s || s.sensorId !== observation.sensor_id || s.metric !== observation.metric) return;
    s.points.push(observation);
    s.to = Math.max(s.to, Date.parse(observation.time) || s.to);
    if (observation.level === "alarm" && !s.points.at(-2)?.alarm) s.alarmTimes.push(Date.parse(observation.time));
    this.draw();
  }

  /** Draw the state; returns the point count (0 hides the canvas). */
  draw() {
    const s = this.state;
    const names = { warning: t("level.warning"), alarm: t("level.alarm") };
    const count = drawHistory(this.canvas, s.points, `${t("inspector.history")} ${label("metric", s.metric)}`, { unit: s.unit, thresholds: s.thresholds, alarmTimes: s.alarmTimes, from: s.from, to: s.to, names });
    this.canvas.hidden = count === 0;
    this.controls.hidden = false;
    return count;
  }
}
