// picking.js: what is under the mouse, described as plain data the inspector can show
// and the browser tests can read: a 3D Tiles feature, a GIS feature or a sensor.

import { fetchBimElement } from "./api.js";
import { GLOBAL_ID_PROPERTY } from "./bim.js";

const Cesium = window.Cesium;

/** The schema's original name of a sanitised property id ("Pset_WallCommon.IsExternal"). */
function originalName(feature, id) {
  try {
    // Not public API: EXT_structural_metadata class of the tile's property table.
    const property = feature.content.batchTable._propertyTable.class.properties[id];
    return (property && property.name) || id;
  } catch (error) {
    return id;
  }
}

/** All properties of a tileset feature, keyed by original name where the schema has it. */
export function featureProperties(feature) {
  const properties = {};
  for (const id of feature.getPropertyIds()) {
    const value = feature.getProperty(id);
    properties[originalName(feature, id)] = typeof value === "bigint" ? value.toString() : value;
  }
  return properties;
}

/** Nested objects flattened to "a.b" keys (the BIM API's property sets). */
export function flatten(object, prefix = "", out = {}) {
  for (const [key, value] of Object.entries(object || {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value)) flatten(value, name, out);
    else out[name] = value;
  }
  return out;
}

/** Describe a Cesium3DTileFeature: tileset id and its properties. */
function describeFeature(feature) {
  const tileset = feature.tileset || feature.primitive;
  const entry = (tileset && tileset.cimtwinEntry) || {};
  return { type: "feature", tilesetId: entry.id ?? null, tilesetName: entry.name ?? null, kind: entry.kind ?? null, properties: featureProperties(feature) };
}

/** Describe an entity we created (GIS feature or sensor), or null for others. */
function describeEntity(entity) {
  const info = entity.cimtwin;
  if (!info) return null;
  return { type: info.type, collection: info.collection, kind: info.kind, sensorId: info.sensorId ?? null, featureId: info.featureId ?? null, properties: { ...info.properties } };
}

/** Describe what the scene's pick returned, or null when nothing of ours is there. */
export function describePicked(picked) {
  if (!Cesium.defined(picked)) return null;
  if (picked instanceof Cesium.Cesium3DTileFeature) return describeFeature(picked);
  if (picked.id instanceof Cesium.Entity) return describeEntity(picked.id);
  return null;
}

/** Rank of a picked object: points on top (sensors, facilities), then model features,
 * then draped GIS polygons, which lie over models and would otherwise hide them. */
function pickRank(picked) {
  if (picked && picked.id && picked.id.cimtwin && picked.id.cimtwin.type === "cluster") return 0; // declutter.js
  const info = picked && picked.id instanceof Cesium.Entity ? picked.id.cimtwin : null;
  if (info && (info.type === "sensor" || info.kind === "facilities")) return 0;
  if (picked instanceof Cesium.Cesium3DTileFeature) return 1;
  if (info) return 2;
  return 3;
}

/** Pick at a window position (CSS pixels); returns {picked, description}. */
export function pickAt(viewer, x, y) {
  const hits = viewer.scene.drillPick(new Cesium.Cartesian2(x, y), 4);
  const picked = hits.reduce((best, hit) => (best === undefined || pickRank(hit) < pickRank(best) ? hit : best), undefined);
  return { picked, description: describePicked(picked) };
}

/** For a BIM feature, merge the server's full element record (original property names). */
export async function enrichBimDescription(description) {
  const globalId = description.properties[GLOBAL_ID_PROPERTY];
  if (description.kind !== "bim" || !globalId || !description.tilesetId) return description;
  const element = await fetchBimElement(description.tilesetId, globalId);
  if (!element) return description;
  // The record holds the element's own property sets only; the tile's property table has
  // a column for every set of the model (a wall's door columns are empty or default).
  const { units = {}, ...record } = element; // units: {property: symbol} (IfcUnitAssignment)
  const own = flatten(record.properties ?? record);
  delete own.fid; // the index's internal row id, not a property of the element
  return { ...description, properties: own, units, ownProperties: true };
}
