// inspector.js: the property panel (DOM only). Shows a picked tileset feature's
// properties grouped by property set, a GIS feature's attributes, or a sensor's latest
// readings and a history chart.

import { t, label, pickLanguage, getLanguage } from "./i18n.js";
import { PSET_NAMES_ZH, PROPERTY_NAMES_ZH } from "./psetnames.js";
import { drawHistory } from "./chart.js";
import { formatValue } from "./metrics.js";
import { featureName } from "./layers.js";

/** Properties grouped by property set: "Pset_X.Prop" -> group "Pset_X"; the rest -> identity. */
export function groupProperties(properties) {
  const groups = new Map();
  for (const [name, value] of Object.entries(properties)) {
    const dot = name.indexOf(".");
    const group = dot > 0 ? name.slice(0, dot) : "";
    const key = dot > 0 ? name.slice(dot + 1) : name;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push([key, value]);
  }
  // The identity group (no set) first, then property sets alphabetically.
  return [...groups.entries()].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
}

/** Properties worth showing: no internal ids, no empty values (so no empty sets). */
export function shownProperties(properties) {
  const out = {};
  for (const [name, value] of Object.entries(properties || {})) {
    if (name === "fid" || value === null || value === undefined || value === "") continue;
    out[name] = value;
  }
  return out;
}

/** Display name of a property set or property (Chinese for the common IFC ones). */
export function displayName(raw, table) {
  return getLanguage() === "zh" && table[raw] ? table[raw] : raw;
}

/** A <tbody> with a header row and one row per [key, value]; `titleOf(key)` is the raw
 * name shown on hover (null: none). */
function tableSection(title, rows, { rawTitle = null, nameOf = (k) => k, titleOf = () => null } = {}) {
  const body = document.createElement("tbody");
  const head = body.insertRow();
  const th = document.createElement("th");
  th.colSpan = 2;
  th.textContent = title;
  if (rawTitle) th.title = rawTitle;
  head.appendChild(th);
  for (const [key, value] of rows) {
    const row = body.insertRow();
    row.insertCell().textContent = nameOf(key);
    row.cells[0].className = "key";
    const raw = titleOf(key);
    if (raw) row.cells[0].title = raw;
    row.insertCell().textContent = value === null || value === undefined ? "" : Array.isArray(value) ? value.join(", ") : String(value);
  }
  return body;
}

/** A value with its unit ("3.5 m"), when the property has one. */
export function withUnit(value, unit) {
  if (!unit || value === null || value === undefined || typeof value === "boolean") return value;
  const number = typeof value === "number" ? Math.round(value * 1000) / 1000 : value;
  return `${number} ${unit}`;
}

/** Grouped property tables for `properties` (IFC names translated, raw names on hover,
 * values with the units of `units`: {"Pset.Prop": symbol}). */
function propertyTable(properties, firstTitle, units = {}) {
  const table = document.createElement("table");
  const shown = Object.fromEntries(Object.entries(shownProperties(properties)).map(([k, v]) => [k, withUnit(v, units[k])]));
  for (const [group, rows] of groupProperties(shown)) {
    const title = group ? displayName(group, PSET_NAMES_ZH) : firstTitle;
    const options = { rawTitle: group || null, nameOf: (k) => displayName(k, PROPERTY_NAMES_ZH), titleOf: (k) => (group ? `${group}.${k}` : k) };
    table.appendChild(tableSection(title, rows, options));
  }
  return table;
}

/** The inspector panel: show(description) / hide(). */
export class Inspector {
  /** Bind to the panel's elements. */
  constructor(root) {
    this.root = root;
    this.title = root.querySelector("#inspectorTitle");
    this.body = root.querySelector("#inspectorBody");
    this.chart = root.querySelector("#historyChart");
    root.querySelector("#inspectorClose").addEventListener("click", () => this.hide());
    this.current = null;
  }

  /** Hide the panel (and tell `onClose`, which clears the picked highlight). */
  hide() {
    this.root.hidden = true;
    this.current = null;
    if (this.onClose) this.onClose();
  }

  /** Show a tileset feature or GIS feature description. */
  showFeature(description) {
    this.current = description;
    const isTileFeature = description.type === "feature";
    this.title.textContent = isTileFeature
      ? `${t("inspector.feature")} ${description.properties.Name ?? description.properties.name ?? ""}`
      : `${label("kind", description.kind)} ${featureName(description.properties)}`;
    this.body.replaceChildren(propertyTable(description.properties, isTileFeature ? t("inspector.identity") : t("inspector.properties"), description.units));
    if (isTileFeature && description.tilesetId) {
      this.body.prepend(Object.assign(document.createElement("div"), { textContent: `${t("inspector.tileset")}: ${pickLanguage(description.tilesetName || description.tilesetId)}` }));
    }
    this.chart.hidden = true;
    this.root.hidden = false;
  }

  /** Show a sensor: attributes, latest readings ({metric -> observation}) and a chart. */
  showSensor(description, readings) {
    this.current = description;
    this.title.textContent = `${t("inspector.sensor")} ${featureName(description.properties) || description.sensorId}`;
    const rows = Object.values(readings || {}).map((o) => [label("metric", o.metric), `${formatValue(o.value)} ${o.unit}${o.alarm ? " ⚠ " + t("inspector.alarm") : ""}`]);
    const table = propertyTable(description.properties, t("inspector.properties"));
    table.prepend(tableSection(t("inspector.latest"), rows.length ? rows : [[t("inspector.noValues"), ""]]));
    this.body.replaceChildren(table);
    this.root.hidden = false;
  }

  /** Draw a history chart under the sensor; returns the number of points drawn. */
  showHistory(observations, title) {
    const count = drawHistory(this.chart, observations, `${t("inspector.history")} ${title}`);
    this.chart.hidden = count === 0;
    return count;
  }
}
