// metrics.js: sensors as points coloured live by their values, buildings styled by the
// value of the sensor attached to them (with a legend), and the live stream kept honest:
// latest values come from /api/metrics/latest, then every observation arrives over
// Server-Sent Events (ids, replay on reconnect, `reset` -> reload). While the stream is
// down, or a reading is older than its sensor's sampling allows, values are drawn as stale
// (grey, marked), never as live.

import { fetchLatestMetrics, fetchSensorRegistry, fetchStreamToken, authHeaders, METRICS_STREAM_URL } from "./api.js";
import { featureName } from "./layers.js";
import { label, t } from "./i18n.js";

const Cesium = window.Cesium;
/** Point colour per alarm level of a sensor's worst current reading (outline). */
export const LEVEL_COLOURS = { normal: "#36d1dc", warning: "#ffb020", alarm: "#ff3b3b" };
export const STALE_COLOUR = "#8a8f98";
const LEVEL_ORDER = ["normal", "warning", "alarm"];
/** A reading is stale after this many sampling intervals (or STALE_MS without one). */
const STALE_INTERVALS = 3;
const STALE_MS = 10 * 60 * 1000;
/** The metric buildings are coloured by, when a sensor attached to a building reports it. */
export const BUILDING_METRIC = "power_kw";

/** An observation in the stream's shape, from whatever shape the server used. */
export function normaliseObservation(raw) {
  if (!raw || typeof raw !== "object") return null;
  const sensor = raw.sensor_id ?? raw.sensor ?? raw.sensorId;
  if (sensor === undefined || raw.metric === undefined) return null;
  return {
    sensor_id: String(sensor),
    metric: String(raw.metric),
    datastream: raw.datastream ?? `${sensor}:${raw.metric}`,
    value: Number(raw.value),
    unit: raw.unit ?? "",
    time: raw.time ?? raw.timestamp ?? "",
    quality: raw.quality ?? "good",
    alarm: Boolean(raw.alarm) || raw.level === "alarm",
    level: raw.level === "alarm" || raw.alarm ? "alarm" : raw.level === "warning" ? "warning" : "normal",
  };
}

/** A list of observations from a list, {observations|items|latest: [...]}, or a nested dict. */
export function observationsFrom(body) {
  if (Array.isArray(body)) return body.map(normaliseObservation).filter(Boolean);
  if (!body || typeof body !== "object") return [];
  for (const key of ["observations", "items", "latest", "data"]) {
    if (Array.isArray(body[key])) return observationsFrom(body[key]);
  }
  return Object.entries(body).flatMap(([sensor, value]) => {
    const list = Array.isArray(value) ? value : Object.entries(value || {}).map(([metric, v]) => (typeof v === "object" ? { metric, ...v } : { metric, value: v }));
    return list.map((o) => normaliseObservation({ sensor_id: sensor, ...o })).filter(Boolean);
  });
}

/** A value rounded for display. */
export function formatValue(value) {
  return Number.isFinite(value) ? String(Math.round(value * 100) / 100) : "-";
}

/** Green -> yellow -> red for a fraction 0..1 (clamped), as a CSS colour. */
export function rampColour(fraction) {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const hue = 120 * (1 - f); // 120 green, 60 yellow, 0 red
  return `hsl(${Math.round(hue)}, 85%, 50%)`;
}

/** Where a value sits between 0 and its alarm threshold (or the range seen), 0..1. */
export function valueFraction(value, thresholds, range) {
  const top = thresholds && Number.isFinite(thresholds.alarm) ? thresholds.alarm : range && range.max > range.min ? range.max : null;
  if (top === null) return 0;
  const bottom = thresholds && Number.isFinite(thresholds.alarm) ? 0 : range.min;
  return (value - bottom) / (top - bottom || 1);
}

/** True when a reading is too old to be shown as live. */
export function isStale(observation, samplingS, now = Date.now()) {
  const at = Date.parse(observation.time);
  if (!Number.isFinite(at)) return true;
  const limit = samplingS ? Math.max(samplingS * 1000 * STALE_INTERVALS, 30000) : STALE_MS;
  return now - at > limit;
}

/** Text shown under a sensor: its latest values, "PM2.5 35 µg/m³" (stale ones marked). */
function readingText(readings, staleOf) {
  const mark = t("metrics.staleMark", {}, "(stale)");
  return Object.values(readings).map((o) => `${label("metric", o.metric)} ${formatValue(o.value)}${o.unit ? " " + o.unit : ""}${staleOf(o) ? " " + mark : ""}`).join("\n");
}

/** The live sensor layer: entities, latest readings, registry and the SSE subscription. */
export class SensorLayer {
  /** Create the layer in `viewer` with a data source named after the collection. */
  constructor(viewer, collectionId) {
    this.viewer = viewer;
    this.source = new Cesium.CustomDataSource(collectionId);
    this.collectionId = collectionId;
    this.entities = new Map(); // sensor_id -> Entity
    this.latest = new Map(); // sensor_id -> {metric -> observation}
    this.registry = new Map(); // datastream id -> {sensor_id, metric, thresholds, sampling_s}
    this.sensorFeatures = new Map(); // sensor_id -> {type, id, layer}
    this.ranges = new Map(); // metric -> {min, max} of the values seen
    this.connected = false;
    this.received = 0;
    this.resets = 0;
    this.lastObservation = null;
    this.lastEventId = null;
    this.listeners = [];
    this.alarmListeners = []; // `event: alarm` of the stream (alarms.js)
    this.resetListeners = [];
  }

  /** Add the sensors of a GeoJSON FeatureCollection as points clamped to the ground. */
  async addSensors(features) {
    for (const feature of features) {
      const props = feature.properties || {};
      const id = String(props.sensor_id ?? feature.id ?? "");
      const coords = feature.geometry && feature.geometry.type === "Point" ? feature.geometry.coordinates : null;
      if (!id || !coords || this.entities.has(id)) continue;
      const entity = this.source.entities.add({
        position: Cesium.Cartesian3.fromDegrees(coords[0], coords[1]),
        point: { pixelSize: 13, color: Cesium.Color.fromCssColorString(STALE_COLOUR), outlineColor: Cesium.Color.WHITE, outlineWidth: 2, heightReference: Cesium.HeightReference.CLAMP_TO_3D_TILE, disableDepthTestDistance: Number.POSITIVE_INFINITY },
        label: { text: featureName(props), font: "12px sans-serif", fillColor: Cesium.Color.WHITE, outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE, pixelOffset: new Cesium.Cartesian2(0, 14), verticalOrigin: Cesium.VerticalOrigin.TOP, heightReference: Cesium.HeightReference.CLAMP_TO_3D_TILE, disableDepthTestDistance: Number.POSITIVE_INFINITY, distanceDisplayCondition: new Cesium.DistanceDisplayCondition(0, 5000) },
      });
      entity.cimtwin = { type: "sensor", collection: this.collectionId, kind: "sensors", sensorId: id, properties: props };
      this.entities.set(id, entity);
    }
    await this.viewer.dataSources.add(this.source);
  }

  /** Load the sensor registry (thresholds, sampling, attached features) from /api/sensors. */
  async loadRegistry() {
    const body = await fetchSensorRegistry();
    for (const feature of body.features || []) {
      const props = feature.properties || {};
      if (props.feature) this.sensorFeatures.set(String(props.sensor_id), props.feature);
      for (const ds of props.datastreams || []) this.registry.set(ds.id, { sensor_id: ds.sensor_id, metric: ds.metric, unit: ds.unit || "", thresholds: ds.thresholds || null, sampling_s: ds.sampling_s });
    }
    if (!this.entities.size) await this.addSensors((body.features || []).filter((f) => f.geometry));
  }

  /** The unit of a sensor's metric: from the registry, else its latest reading ("" unknown). */
  unitOf(sensorId, metric) {
    for (const ds of this.registry.values()) if (ds.sensor_id === sensorId && ds.metric === metric && ds.unit) return ds.unit;
    return ((this.latest.get(sensorId) || {})[metric] || {}).unit || "";
  }

  /** True when `observation` must not be shown as live (stream down, or too old). */
  staleOf(observation) {
    const ds = this.registry.get(observation.datastream);
    return !this.connected || isStale(observation, ds && ds.sampling_s);
  }

  /** The worst level among a sensor's live readings ("normal", "warning" or "alarm"). */
  levelOf(sensorId) {
    const readings = Object.values(this.latest.get(sensorId) || {}).filter((o) => !this.staleOf(o));
    return readings.reduce((worst, o) => (LEVEL_ORDER.indexOf(o.level) > LEVEL_ORDER.indexOf(worst) ? o.level : worst), "normal");
  }

  /** Fill colour of a sensor: its worst live reading on the ramp; grey when all are stale. */
  colourOf(sensorId) {
    const live = Object.values(this.latest.get(sensorId) || {}).filter((o) => !this.staleOf(o));
    if (!live.length) return STALE_COLOUR;
    const fractions = live.map((o) => valueFraction(o.value, (this.registry.get(o.datastream) || {}).thresholds, this.ranges.get(o.metric)));
    return rampColour(Math.max(...fractions));
  }

  /** Restyle one sensor's point and label from its readings. */
  restyle(sensorId) {
    const entity = this.entities.get(sensorId);
    if (!entity) return;
    const readings = this.latest.get(sensorId) || {};
    const fill = this.colourOf(sensorId);
    const outline = this.levelOf(sensorId) === "normal" ? "#ffffff" : LEVEL_COLOURS[this.levelOf(sensorId)];
    const text = `${featureName(entity.cimtwin.properties)}\n${readingText(readings, (o) => this.staleOf(o))}`;
    // Only real changes touch the entity: each change costs a frame (render on demand).
    const look = `${fill}|${outline}|${text}`;
    if (entity.cimtwin.look === look) return;
    entity.cimtwin.look = look;
    entity.point.color = Cesium.Color.fromCssColorString(fill);
    entity.point.outlineColor = Cesium.Color.fromCssColorString(outline);
    entity.label.text = text;
  }

  /** Restyle every sensor (after a connection change or the stale timer). */
  restyleAll() {
    for (const id of this.entities.keys()) this.restyle(id);
  }

  /** Record one observation (older ones never replace newer) and restyle its sensor. */
  apply(observation) {
    const readings = this.latest.get(observation.sensor_id) || {};
    const previous = readings[observation.metric];
    if (previous && Date.parse(previous.time) > Date.parse(observation.time)) return;
    readings[observation.metric] = observation;
    this.latest.set(observation.sensor_id, readings);
    const range = this.ranges.get(observation.metric) || { min: observation.value, max: observation.value };
    this.ranges.set(observation.metric, { min: Math.min(range.min, observation.value), max: Math.max(range.max, observation.value) });
    this.restyle(observation.sensor_id);
    this.listeners.forEach((listener) => listener(observation));
  }

  /** Load the latest readings of every sensor (start, and after a `reset`). */
  async loadLatest() {
    observationsFrom(await fetchLatestMetrics()).forEach((o) => this.apply(o));
  }

  /** The stream URL, with a short-lived token when the user has one (EventSource cannot send headers). */
  async streamUrl() {
    const params = new URLSearchParams();
    if (Object.keys(authHeaders()).length) {
      const token = await fetchStreamToken();
      if (token) params.set("token", token);
    }
    if (this.lastEventId) params.set("last_id", this.lastEventId);
    const query = params.toString();
    return query ? `${METRICS_STREAM_URL}?${query}` : METRICS_STREAM_URL;
  }

  /** Subscribe to the live stream; `onStatus(ok)` reports connection state. */
  async subscribe(onStatus = () => {}) {
    const source = new EventSource(await this.streamUrl());
    const setConnected = (ok) => { this.connected = ok; this.restyleAll(); onStatus(ok); };
    source.addEventListener("observation", (event) => {
      this.lastEventId = event.lastEventId || this.lastEventId;
      const observation = normaliseObservation(JSON.parse(event.data));
      if (!observation) return;
      this.received += 1;
      this.lastObservation = observation;
      this.apply(observation);
    });
    source.addEventListener("alarm", (event) => {
      this.lastEventId = event.lastEventId || this.lastEventId;
      const alarm = JSON.parse(event.data);
      this.alarmListeners.forEach((listener) => listener(alarm));
    });
    source.addEventListener("reset", async (event) => {
      this.lastEventId = event.lastEventId || this.lastEventId;
      this.resets += 1; // events were missed: the snapshot is the truth again
      await this.loadLatest();
      this.resetListeners.forEach((listener) => listener());
    });
    source.onopen = () => setConnected(true);
    source.onerror = () => {
      setConnected(false); // EventSource reconnects by itself, resending Last-Event-ID
      if (source.readyState === EventSource.CLOSED) setTimeout(() => this.subscribe(onStatus), 3000); // refused (e.g. token expired): new token
    };
    if (!this.staleTimer) this.staleTimer = setInterval(() => this.restyleAll(), 15000);
    this.eventSource = source;
    return source;
  }

  /** Live readings at warning or alarm level, worst first: [{sensorId, name, ...observation}]. */
  alarms() {
    const out = [];
    for (const [sensorId, readings] of this.latest) {
      const entity = this.entities.get(sensorId);
      for (const o of Object.values(readings)) {
        if (o.level === "normal" || this.staleOf(o)) continue;
        out.push({ ...o, sensorId, name: entity ? featureName(entity.cimtwin.properties) : sensorId });
      }
    }
    return out.sort((a, b) => LEVEL_ORDER.indexOf(b.level) - LEVEL_ORDER.indexOf(a.level) || a.name.localeCompare(b.name));
  }

  /** Call `listener(alarm)` for every alarm event of the stream (raised, cleared, acknowledged). */
  onAlarm(listener) {
    this.alarmListeners.push(listener);
  }

  /** Call `listener()` after the stream missed events and the latest values were reloaded. */
  onReset(listener) {
    this.resetListeners.push(listener);
  }

  /** Call `listener(observation)` for every applied observation. */
  onObservation(listener) {
    this.listeners.push(listener);
  }

  /** {featureId: {value, unit, stale}} of live `metric` readings of sensors attached to features of `type`. */
  featureValues(type, metric) {
    const out = {};
    for (const [sensorId, feature] of this.sensorFeatures) {
      if (feature.type !== type) continue;
      const o = (this.latest.get(sensorId) || {})[metric];
      if (o) out[feature.id] = { value: o.value, unit: o.unit, stale: this.staleOf(o) };
    }
    return out;
  }
}

/** History observations of one sensor/metric from a list or {observations|items|history: [...]}. */
export function historyFrom(body, sensorId, metric) {
  const list = Array.isArray(body) ? body : ["observations", "items", "history", "data"].map((k) => body && body[k]).find(Array.isArray) || [];
  return list.map((o) => normaliseObservation({ sensor_id: sensorId, metric, ...o })).filter(Boolean);
}

/** A 3D Tiles style colouring features by the value of their attached sensor (others stay white). */
export function featureValueStyle(values, idProperty = "id") {
  const entries = Object.entries(values);
  const numbers = entries.filter(([, v]) => !v.stale).map(([, v]) => v.value);
  const min = numbers.length ? Math.min(...numbers) : 0, max = numbers.length ? Math.max(...numbers) : 1;
  const conditions = entries.map(([id, v]) => {
    const colour = v.stale ? STALE_COLOUR : rampColour((v.value - min) / (max - min || 1));
    return [`\${${idProperty}} === ${JSON.stringify(String(id))}`, `color('${colour}')`];
  });
  conditions.push(["true", "color('#ffffff')"]);
  return { style: new Cesium.Cesium3DTileStyle({ color: { conditions } }), min, max, count: entries.length };
}

/** Colour a buildings tileset by its sensors' `metric`, and draw the legend into `legendEl`. */
export function styleBuildings(tileset, sensors, legendEl, metric = BUILDING_METRIC) {
  const values = sensors.featureValues("building", metric);
  if (!tileset || !Object.keys(values).length) {
    if (legendEl) legendEl.hidden = true;
    return null;
  }
  const { style, min, max, count } = featureValueStyle(values);
  tileset.style = style;
  if (legendEl) renderLegend(legendEl, metric, min, max, Object.values(values)[0].unit, count);
  return { min, max, count };
}

/** The legend: metric name, the colour ramp with its range, and the stale colour. */
export function renderLegend(el, metric, min, max, unit, count) {
  el.hidden = false;
  el.replaceChildren();
  const title = document.createElement("div");
  title.className = "metric-legend-title";
  title.textContent = `${t("metrics.buildingsBy", {}, "Buildings by")} ${label("metric", metric)} (${count})`;
  const bar = document.createElement("div");
  bar.className = "metric-legend-ramp";
  bar.style.background = `linear-gradient(to right, ${rampColour(0)}, ${rampColour(0.5)}, ${rampColour(1)})`;
  bar.style.height = "10px";
  const scale = document.createElement("div");
  scale.className = "metric-legend-scale";
  scale.textContent = `${formatValue(min)} – ${formatValue(max)} ${unit || ""}`;
  const stale = document.createElement("div");
  stale.className = "metric-legend-stale";
  stale.innerHTML = `<span style="display:inline-block;width:10px;height:10px;background:${STALE_COLOUR}"></span> `;
  stale.append(t("metrics.stale", {}, "no live value"));
  el.append(title, bar, scale, stale);
}
