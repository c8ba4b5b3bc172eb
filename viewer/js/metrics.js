// metrics.js: sensors as points with their live values. Latest values come from
// /api/metrics/latest, then every new observation arrives over Server-Sent Events.
// A sensor in alarm turns red.

import { fetchLatestMetrics, METRICS_STREAM_URL } from "./api.js";
import { featureName } from "./layers.js";
import { label } from "./i18n.js";

const Cesium = window.Cesium;
/** Point colour per alarm level of a sensor's worst current reading. */
export const LEVEL_COLOURS = { normal: "#36d1dc", warning: "#ffb020", alarm: "#ff3b3b" };
const LEVEL_ORDER = ["normal", "warning", "alarm"];

/** An observation in the stream's shape, from whatever shape the server used. */
export function normaliseObservation(raw) {
  if (!raw || typeof raw !== "object") return null;
  const sensor = raw.sensor_id ?? raw.sensor ?? raw.sensorId;
  if (sensor === undefined || raw.metric === undefined) return null;
  return {
    sensor_id: String(sensor),
    metric: String(raw.metric),
    value: Number(raw.value),
    unit: raw.unit ?? "",
    time: raw.time ?? raw.timestamp ?? "",
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
  // {sensor_id: {metric: {...}}} or {sensor_id: [...]}
  return Object.entries(body).flatMap(([sensor, value]) => {
    const list = Array.isArray(value) ? value : Object.entries(value || {}).map(([metric, v]) => (typeof v === "object" ? { metric, ...v } : { metric, value: v }));
    return list.map((o) => normaliseObservation({ sensor_id: sensor, ...o })).filter(Boolean);
  });
}

/** Text shown under a sensor: its latest values, "PM2.5 35 µg/m³". */
function readingText(readings) {
  return Object.values(readings).map((o) => `${label("metric", o.metric)} ${formatValue(o.value)}${o.unit ? " " + o.unit : ""}`).join("\n");
}

/** A value rounded for display. */
export function formatValue(value) {
  return Number.isFinite(value) ? String(Math.round(value * 100) / 100) : "-";
}

/** The live sensor layer: entities, latest readings and the SSE subscription. */
export class SensorLayer {
  /** Create the layer in `viewer` with a data source named after the collection. */
  constructor(viewer, collectionId) {
    this.viewer = viewer;
    this.source = new Cesium.CustomDataSource(collectionId);
    this.collectionId = collectionId;
    this.entities = new Map(); // sensor_id -> Entity
    this.latest = new Map(); // sensor_id -> {metric -> observation}
    this.received = 0;
    this.lastObservation = null;
    this.listeners = [];
  }

  /** Add the sensors of a GeoJSON FeatureCollection as points clamped to the ground. */
  async addSensors(features) {
    for (const feature of features) {
      const props = feature.properties || {};
      const id = String(props.sensor_id ?? feature.id ?? "");
      const coords = feature.geometry && feature.geometry.type === "Point" ? feature.geometry.coordinates : null;
      if (!id || !coords) continue;
      const entity = this.source.entities.add({
        position: Cesium.Cartesian3.fromDegrees(coords[0], coords[1]),
        point: { pixelSize: 12, color: Cesium.Color.fromCssColorString(LEVEL_COLOURS.normal), outlineColor: Cesium.Color.WHITE, outlineWidth: 2, heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, disableDepthTestDistance: Number.POSITIVE_INFINITY },
        label: { text: featureName(props), font: "12px sans-serif", fillColor: Cesium.Color.WHITE, outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE, pixelOffset: new Cesium.Cartesian2(0, 14), verticalOrigin: Cesium.VerticalOrigin.TOP, heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, disableDepthTestDistance: Number.POSITIVE_INFINITY, distanceDisplayCondition: new Cesium.DistanceDisplayCondition(0, 5000) },
      });
      entity.cimtwin = { type: "sensor", collection: this.collectionId, kind: "sensors", sensorId: id, properties: props };
      this.entities.set(id, entity);
    }
    await this.viewer.dataSources.add(this.source);
  }

  /** The worst level among a sensor's latest readings ("normal", "warning" or "alarm"). */
  levelOf(sensorId) {
    const readings = Object.values(this.latest.get(sensorId) || {});
    return readings.reduce((worst, o) => (LEVEL_ORDER.indexOf(o.level) > LEVEL_ORDER.indexOf(worst) ? o.level : worst), "normal");
  }

  /** Record one observation and restyle its sensor (colour by alarm level, label by values). */
  apply(observation) {
    const readings = this.latest.get(observation.sensor_id) || {};
    readings[observation.metric] = observation;
    this.latest.set(observation.sensor_id, readings);
    const entity = this.entities.get(observation.sensor_id);
    if (entity) {
      entity.point.color = Cesium.Color.fromCssColorString(LEVEL_COLOURS[this.levelOf(observation.sensor_id)]);
      entity.label.text = `${featureName(entity.cimtwin.properties)}\n${readingText(readings)}`;
    }
    this.listeners.forEach((listener) => listener(observation));
  }

  /** Load the latest readings of every sensor once. */
  async loadLatest() {
    observationsFrom(await fetchLatestMetrics()).forEach((o) => this.apply(o));
  }

  /** Subscribe to the live stream; `onStatus(ok)` reports connection state. */
  subscribe(onStatus = () => {}) {
    const source = new EventSource(METRICS_STREAM_URL);
    source.addEventListener("observation", (event) => {
      const observation = normaliseObservation(JSON.parse(event.data));
      if (!observation) return;
      this.received += 1;
      this.lastObservation = observation;
      this.apply(observation);
    });
    source.onopen = () => onStatus(true);
    source.onerror = () => onStatus(false); // EventSource reconnects by itself.
    this.eventSource = source;
    return source;
  }

  /** Readings at warning or alarm level, worst first: [{sensorId, name, position, ...observation}]. */
  alarms() {
    const out = [];
    for (const [sensorId, readings] of this.latest) {
      const entity = this.entities.get(sensorId);
      for (const o of Object.values(readings)) {
        if (o.level === "normal") continue;
        out.push({ ...o, sensorId, name: entity ? featureName(entity.cimtwin.properties) : sensorId });
      }
    }
    return out.sort((a, b) => LEVEL_ORDER.indexOf(b.level) - LEVEL_ORDER.indexOf(a.level) || a.name.localeCompare(b.name));
  }

  /** Call `listener(observation)` for every applied observation. */
  onObservation(listener) {
    this.listeners.push(listener);
  }
}

/** History observations of one sensor/metric from a list or {observations|items|history: [...]}. */
export function historyFrom(body, sensorId, metric) {
  const list = Array.isArray(body) ? body : ["observations", "items", "history", "data"].map((k) => body && body[k]).find(Array.isArray) || [];
  return list.map((o) => normaliseObservation({ sensor_id: sensorId, metric, ...o })).filter(Boolean);
}
