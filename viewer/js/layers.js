// layers.js: GIS layers from OGC API - Features drawn on the scene: public facilities
// as icons with Chinese labels, construction projects as polygons coloured by stage.
// Each layer is one CustomDataSource, so the layer panel toggles it with `.show`.

import { fetchItems } from "./api.js";
import { getLanguage, label } from "./i18n.js";
import { facilityIcon, ICON_SIZE } from "./icons.js";

const Cesium = window.Cesium;

/** Lifecycle stages in order, with their legend colours. */
export const STAGE_COLOURS = {
  planned: "#4e9cff",
  approved: "#f2c94c",
  under_construction: "#ff7a2f",
  completed: "#3fbf6f",
};

/** A facility's category in the current language (the data's own Chinese name first). */
export function categoryName(props) {
  const category = props.category || "other";
  return getLanguage() === "zh" && props.category_zh ? props.category_zh : label("category", category);
}

/** Lon/lat rings of a GeoJSON polygon as a Cesium PolygonHierarchy (holes kept). */
function hierarchyOf(rings) {
  const toPositions = (ring) => Cesium.Cartesian3.fromDegreesArray(ring.flatMap((c) => [c[0], c[1]]));
  return new Cesium.PolygonHierarchy(toPositions(rings[0]), rings.slice(1).map((r) => new Cesium.PolygonHierarchy(toPositions(r))));
}

/** The point coordinates of a GeoJSON geometry (Point/MultiPoint), else polygon centroid-ish. */
function pointsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Point") return [geometry.coordinates];
  if (geometry.type === "MultiPoint") return geometry.coordinates;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  return polygons.map((rings) => {
    const ring = rings[0];
    const sum = ring.reduce((acc, c) => [acc[0] + c[0], acc[1] + c[1]], [0, 0]);
    return [sum[0] / ring.length, sum[1] / ring.length];
  });
}

/** The polygons (arrays of rings) of a GeoJSON geometry. */
function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

/** Name to show for a feature in the current language. */
export function featureName(properties) {
  if (getLanguage() === "en") return properties["name:en"] || properties.name_en || properties.name || "";
  return properties.name || properties["name:zh"] || "";
}

/** Add one facility feature as its category's icon (icons.js) + label clamped to the 3D tiles (the district's
 * terrain is a tileset; the globe is a bare ellipsoid, and clamping to it would keep
 * Cesium picking globe tiles in the background, a frame each: render on demand). */
function addFacility(source, feature, collection) {
  const props = feature.properties || {};
  for (const [lon, lat] of pointsOf(feature.geometry)) {
    const entity = source.entities.add({
      position: Cesium.Cartesian3.fromDegrees(lon, lat),
      billboard: {
        image: facilityIcon(props.category),
        width: ICON_SIZE,
        height: ICON_SIZE,
        heightReference: Cesium.HeightReference.CLAMP_TO_3D_TILE,
        verticalOrigin: Cesium.VerticalOrigin.CENTER,
      },
      label: {
        text: featureName(props),
        font: "13px sans-serif",
        fillColor: Cesium.Color.WHITE,
        outlineColor: Cesium.Color.BLACK,
        outlineWidth: 3,
        style: Cesium.LabelStyle.FILL_AND_OUTLINE,
        pixelOffset: new Cesium.Cartesian2(0, -24),
        heightReference: Cesium.HeightReference.CLAMP_TO_3D_TILE,
        distanceDisplayCondition: new Cesium.DistanceDisplayCondition(0, 6000),
      },
    });
    entity.cimtwin = { type: "gis", collection, kind: "facilities", properties: props, featureId: feature.id };
  }
}

/** Milestone date property of each lifecycle stage, in lifecycle order. */
const STAGE_DATES = [["planned", "planned_date"], ["approved", "approved_date"], ["under_construction", "start_date"], ["completed", "completion_date"]];

/** A project's stage on an ISO date (YYYY-MM-DD): its last milestone reached by then,
 * or null when it was not yet planned. Without a date: its recorded stage. */
export function stageAt(props, isoDate) {
  if (!isoDate) return props.stage ?? null;
  let stage = null;
  for (const [name, key] of STAGE_DATES) {
    const when = String(props[key] ?? "").slice(0, 10);
    if (when && when <= isoDate) stage = name;
  }
  return stage;
}

/** Colour (and show) a project entity for its stage on `isoDate` (null: today's stage). */
function styleProject(entity, isoDate) {
  const stage = stageAt(entity.cimtwin.properties, isoDate);
  entity.cimtwin.stage = stage;
  entity.show = stage !== null;
  const opacity = entity.entityCollection.owner?.cimtwinOpacity ?? 1; // layer tree's slider
  const colour = Cesium.Color.fromCssColorString(STAGE_COLOURS[stage] || "#aaaaaa").withAlpha(0.55 * opacity);
  entity.polygon.material = new Cesium.ColorMaterialProperty(colour);
}

/** Show the project layer as the district was on `isoDate` (null or "": as recorded). */
export function showProjectsAsOf(source, isoDate) {
  source.entities.values.forEach((entity) => entity.cimtwin && entity.cimtwin.kind === "projects" && styleProject(entity, isoDate || null));
}

/** Add one project feature as ground polygons coloured by its lifecycle stage. */
function addProject(source, feature, collection) {
  const props = feature.properties || {};
  for (const rings of polygonsOf(feature.geometry)) {
    const entity = source.entities.add({
      polygon: { hierarchy: hierarchyOf(rings), classificationType: Cesium.ClassificationType.BOTH },
    });
    entity.cimtwin = { type: "gis", collection, kind: "projects", properties: props, featureId: feature.id };
    styleProject(entity, null);
  }
}

/** Add any other feature (buildings, unknown kinds) as outlines or points. */
function addGeneric(source, feature, collection, kind) {
  const props = feature.properties || {};
  for (const rings of polygonsOf(feature.geometry)) {
    const entity = source.entities.add({
      polygon: { hierarchy: hierarchyOf(rings), material: Cesium.Color.CYAN.withAlpha(0.25), classificationType: Cesium.ClassificationType.BOTH },
    });
    entity.cimtwin = { type: "gis", collection, kind, properties: props };
  }
}

const ADDERS = { facilities: addFacility, projects: addProject };
const HIDDEN_AT_START = new Set(["buildings"]);

/** Fetch a collection's features and add them to `layer.source` (once). */
async function fillLayer(layer, collection) {
  if (!layer.pending) {
    layer.pending = fetchItems(collection.id).then((body) => {
      const features = body.features || [];
      const add = ADDERS[collection.kind] || ((s, f, c) => addGeneric(s, f, c, collection.kind));
      features.forEach((feature) => add(layer.source, feature, collection.id));
      Object.assign(layer, { features, count: features.length, loaded: true });
      return layer;
    });
  }
  return layer.pending;
}

/** Load one collection into a new data source; resolves to the layer {source, count,
 * features, loaded}. A layer hidden at start is fetched only when first shown. */
export async function loadLayer(viewer, collection) {
  const source = new Cesium.CustomDataSource(collection.id);
  const layer = { source, count: 0, features: [], loaded: false, collection };
  // Footprints would drape over the 3D buildings they came from: off until asked for.
  source.show = !HIDDEN_AT_START.has(collection.kind);
  if (source.show) await fillLayer(layer, collection);
  await viewer.dataSources.add(source);
  return layer;
}

/** Show or hide a layer; the first show of a layer hidden at start fetches its features. */
export async function setLayerVisible(layer, visible) {
  layer.source.show = visible;
  if (visible && !layer.loaded && layer.collection) await fillLayer(layer, layer.collection);
}

/** Relabel facility labels after a language switch. */
export function relabelLayer(source) {
  source.entities.values.forEach((entity) => {
    if (entity.label && entity.cimtwin && entity.cimtwin.type === "gis") entity.label.text = featureName(entity.cimtwin.properties);
  });
}
