// declutter.js: keeps the map legible at every zoom. Points of a layer cluster into a
// count badge when zoomed out (Cesium EntityCluster); labels shrink and fade with
// distance (NearFarScalar); a screen-space pass hides the labels that would collide with
// a label of higher priority (alarms, then facilities, then sensors); pins and labels are
// depth-tested against the city (nothing shows through a building) except the one the
// user picked. `labelRects` measures what is drawn (tests, bench).

import { clusterIcon } from "./icons.js";

const Cesium = window.Cesium;

/** Lower draws first and wins a collision. */
const KIND_PRIORITY = { alarm: 0, facilities: 1, sensors: 2 };
const OTHER_PRIORITY = 9;
/** Labels shrink from full size at 500 m to 80 % at 8 km, and fade to 60 % opacity. */
const LABEL_SCALE = () => new Cesium.NearFarScalar(500, 1.0, 8000, 0.8);
const LABEL_FADE = () => new Cesium.NearFarScalar(1500, 1.0, 8000, 0.6);
const PIN_SCALE = () => new Cesium.NearFarScalar(300, 1.0, 6000, 0.6);
/** Pins lifted 15 m toward the eye, so the tile they are clamped to does not cut them. */
const PIN_LIFT = () => new Cesium.Cartesian3(0, 0, -15);
/** Rectangles closer than this (px) count as touching. */
const LABEL_MARGIN = 2;

/** Cluster a layer's points when they crowd: 3 or more within `pixelRange` px become one
 * count badge in the layer's colour (clamped to the city, drawn on top: it stands for many). */
export function clusterLayer(source, colour, pixelRange = 36) {
  const clustering = source.clustering;
  clustering.enabled = true;
  clustering.pixelRange = pixelRange;
  clustering.minimumClusterSize = 3;
  clustering.clusterEvent.addEventListener((entities, cluster) => {
    const image = clusterIcon(entities.length, colour);
    const size = Number(image.dataset.size);
    cluster.label.show = false;
    Object.assign(cluster.billboard, {
      show: true, image, width: size, height: size, id: { cimtwin: { type: "cluster", count: entities.length, entities } },
      verticalOrigin: Cesium.VerticalOrigin.CENTER, heightReference: Cesium.HeightReference.CLAMP_TO_3D_TILE,
      disableDepthTestDistance: Number.POSITIVE_INFINITY,
    });
  });
}

/** The entities a picked cluster badge stands for, or null when `picked` is no cluster. */
export function clusterMembers(picked) {
  const info = picked && picked.id && picked.id.cimtwin;
  return info && info.type === "cluster" ? info.entities : null;
}

/** Give a layer's pins and labels distance scaling and depth testing (call after adding). */
export function legibleLayer(source) {
  for (const entity of source.entities.values) {
    if (entity.label) {
      entity.label.scaleByDistance = LABEL_SCALE();
      entity.label.translucencyByDistance = LABEL_FADE();
      entity.label.disableDepthTestDistance = 0;
      entity.label.eyeOffset = PIN_LIFT();
    }
    if (entity.billboard) {
      entity.billboard.scaleByDistance = PIN_SCALE();
      entity.billboard.disableDepthTestDistance = 0;
      entity.billboard.eyeOffset = PIN_LIFT();
    }
    if (entity.point) {
      entity.point.scaleByDistance = PIN_SCALE();
      entity.point.disableDepthTestDistance = 0;
    }
  }
}

/** Show a layer at `opacity` (0..1): pins, points and labels fade by it, polygons through
 * `restyle()` (layers.js reads source.cimtwinOpacity for their fill). */
export function setLayerOpacity(source, opacity, restyle = () => {}) {
  source.cimtwinOpacity = opacity;
  const constant = new Cesium.NearFarScalar(1, opacity, 1e7, opacity);
  for (const entity of source.entities.values) {
    if (entity.billboard) entity.billboard.color = Cesium.Color.WHITE.withAlpha(opacity);
    if (entity.point) entity.point.translucencyByDistance = constant;
    if (entity.label) entity.label.translucencyByDistance = new Cesium.NearFarScalar(1500, opacity, 8000, 0.6 * opacity);
    if (entity.polygon && entity.cimtwin && entity.cimtwin.kind !== "projects") entity.polygon.material = Cesium.Color.CYAN.withAlpha(0.25 * opacity); // layers.addGeneric's fill
  }
  restyle();
}

/** Draw one entity (the picked one) on top of everything; null puts the last one back. */
export function raiseEntity(state, entity) {
  if (state.raised === entity) return;
  const set = (e, distance) => {
    for (const graphics of [e.billboard, e.label, e.point]) if (graphics) graphics.disableDepthTestDistance = distance;
  };
  if (state.raised) set(state.raised, 0);
  state.raised = entity && (entity.billboard || entity.label || entity.point) ? entity : null;
  if (state.raised) set(state.raised, Number.POSITIVE_INFINITY);
}

/** The priority of a drawn label: its entity's kind, or alarm when `isAlarm(entity)`. */
function priorityOf(label, isAlarm) {
  const info = label.id && label.id.cimtwin;
  if (!info) return OTHER_PRIORITY;
  if (isAlarm(label.id)) return KIND_PRIORITY.alarm;
  return KIND_PRIORITY[info.kind] ?? OTHER_PRIORITY;
}

/** True when a label is drawn this frame: shown, not folded into a cluster, within its
 * distance condition, in front of the camera. */
function isDrawn(label, scene) {
  if (!label.show || label.clusterShow === false || !label.text) return false;
  const position = label._clampedPosition || label.position;
  const condition = label.distanceDisplayCondition;
  if (condition) {
    const distance = Cesium.Cartesian3.distance(scene.camera.positionWC, position);
    if (distance < condition.near || distance > condition.far) return false;
  }
  return true;
}

/** The labels collections of every shown data source (entity labels and cluster labels). */
function labelCollections(viewer) {
  const collections = [];
  for (let i = 0; i < viewer.dataSources.length; i += 1) {
    const source = viewer.dataSources.get(i);
    if (!source.show) continue;
    for (const c of [source.clustering._labelCollection, source.clustering._clusterLabelCollection]) if (c) collections.push(c);
  }
  return collections;
}

/** Screen rectangles {x, y, width, height, label} of every label drawn now (canvas px). */
export function labelRects(viewer) {
  const scene = viewer.scene;
  const canvas = scene.canvas;
  const rects = [];
  for (const collection of labelCollections(viewer)) {
    for (let i = 0; i < collection.length; i += 1) {
      const label = collection.get(i);
      if (!isDrawn(label, scene)) continue;
      const at = label.computeScreenSpacePosition(scene);
      if (!at) continue;
      const box = Cesium.Label.getScreenSpaceBoundingBox(label, at);
      if (box.x + box.width < 0 || box.y + box.height < 0 || box.x > canvas.clientWidth || box.y > canvas.clientHeight) continue;
      rects.push({ x: box.x, y: box.y, width: box.width, height: box.height, label });
    }
  }
  return rects;
}

/** True when two rectangles overlap (closer than LABEL_MARGIN). */
function overlaps(a, b) {
  return a.x < b.x + b.width + LABEL_MARGIN && b.x < a.x + a.width + LABEL_MARGIN
    && a.y < b.y + b.height + LABEL_MARGIN && b.y < a.y + a.height + LABEL_MARGIN;
}

/** How many drawn labels overlap another drawn label: {labels, overlapping}. */
export function countLabelOverlaps(viewer) {
  const rects = labelRects(viewer);
  const hit = new Set();
  rects.forEach((a, i) => rects.slice(i + 1).forEach((b, j) => { if (overlaps(a, b)) { hit.add(i); hit.add(i + 1 + j); } }));
  return { labels: rects.length, overlapping: hit.size };
}

/** Collision hiding: after the camera stops, all labels come back; after each frame the
 * labels that collide with one of higher priority are hidden (until the next stop).
 * Hidden labels are entity labels with show=false (their pins stay). */
export class LabelDeclutter {
  /** Watch `viewer`; `isAlarm(entity)` tells which labels belong to an alarming source. */
  constructor(viewer, isAlarm = () => false) {
    this.viewer = viewer;
    this.isAlarm = isAlarm;
    this.hidden = new Set();
    this.passes = 0;
    this.settled = false;
    this.enabled = true; // off: every label drawn (the bench's "before" figure)
    viewer.camera.moveEnd.addEventListener(() => this.reset());
    viewer.scene.postRender.addEventListener(() => this.onFrame());
  }

  /** Start over: show every hidden label and re-check in the next frames. */
  reset() {
    this.hidden.forEach((entity) => { entity.label.show = true; });
    this.hidden.clear();
    this.passes = 0;
    this.settled = false;
    this.viewer.scene.requestRender();
  }

  /** After every rendered frame (labels move as tiles load and clamp, texts change):
   * hide what collides now; ask for another frame only while something was hidden. */
  onFrame() {
    if (!this.enabled) { this.settled = true; return; }
    if (!this.viewer.dataSourceDisplay.ready) { this.settled = false; return; }
    const hidden = this.hideCollisions();
    this.passes += 1;
    this.settled = hidden === 0 && this.passes >= 2;
    if (!this.settled) this.viewer.scene.requestRender();
  }

  /** Hide the labels that overlap a label of higher priority; returns how many. */
  hideCollisions() {
    const rects = labelRects(this.viewer).sort((a, b) => priorityOf(a.label, this.isAlarm) - priorityOf(b.label, this.isAlarm));
    const kept = [];
    let hidden = 0;
    for (const rect of rects) {
      const entity = rect.label.id;
      const hideable = entity instanceof Cesium.Entity && entity.label;
      if (hideable && kept.some((k) => overlaps(k, rect))) {
        entity.label.show = false;
        this.hidden.add(entity);
        hidden += 1;
      } else kept.push(rect);
    }
    return hidden;
  }
}
