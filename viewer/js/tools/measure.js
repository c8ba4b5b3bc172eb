// tools/measure.js: distances (horizontal, slant), height differences, polyline length,
// polygon area (planar and on the surface) and a point's coordinates (CGCS2000 lon/lat,
// the configured Gauss-Kruger zone, ellipsoidal height). Points snap to 3D Tiles and
// BIM surfaces (scene.pickPosition); the globe otherwise. Surface areas read the heights
// from the depth of the current view (ray picks cost a render each in software GL).

import { t } from "../i18n.js";
import { toGaussKruger } from "./gausskruger.js";
import { surfacePoint, lonLatHeight, enuFrame, toolLayer, addPoint, addLine, addLabel, formatLength, formatArea } from "./scenepick.js";

const Cesium = window.Cesium;
const MODES = ["distance", "height", "polyline", "area", "point"];
const TWO_POINT_MODES = new Set(["distance", "height", "point"]);

/** Horizontal (on the ellipsoid), slant and vertical distance between two points. */
export function distances(a, b) {
  const ca = Cesium.Cartographic.fromCartesian(a), cb = Cesium.Cartographic.fromCartesian(b);
  const geodesic = new Cesium.EllipsoidGeodesic(ca, cb);
  return { horizontal_m: geodesic.surfaceDistance, slant_m: Cesium.Cartesian3.distance(a, b), dh_m: cb.height - ca.height };
}

/** Planar area of a ring of local {x, y} points (shoelace). */
function ringArea(points) {
  let twice = 0;
  points.forEach((p, i) => { const q = points[(i + 1) % points.length]; twice += p.x * q.y - q.x * p.y; });
  return Math.abs(twice) / 2;
}

/** Is local point (x, y) inside the ring (even-odd rule)? */
function inside(ring, x, y) {
  let inRing = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i], b = ring[j];
    if ((a.y > y) !== (b.y > y) && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inRing = !inRing;
  }
  return inRing;
}

/** Height (local z) of the scene's surface seen at local (x, y): the depth of the
 * pixel where that point (at height `z`) appears in the current view; null off screen. */
function surfaceZ(viewer, frame, x, y, z) {
  const pixel = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, frame.toWorld(x, y, z));
  const picked = pixel && viewer.scene.pickPosition(pixel);
  return Cesium.defined(picked) ? frame.toLocal(picked).z : null;
}

/** Area of the polygon draped on the scene's surface (tiles, BIM, mesh, globe): the
 * planar area times the slope factor of a grid of surface heights inside the ring. */
export function surfaceArea(viewer, positions, cells = 16) {
  const frame = enuFrame(positions[0]);
  const ring = positions.map((p) => frame.toLocal(p));
  const xs = ring.map((p) => p.x), ys = ring.map((p) => p.y);
  const meanZ = ring.reduce((sum, p) => sum + p.z, 0) / ring.length;
  const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
  const step = Math.max(Math.max(...xs) - x0, Math.max(...ys) - y0) / cells;
  const z = [];
  for (let i = 0; i <= cells; i++) z.push([...Array(cells + 1).keys()].map((j) => surfaceZ(viewer, frame, x0 + i * step, y0 + j * step, meanZ)));
  let planar = 0, draped = 0;
  for (let i = 0; i < cells; i++) {
    for (let j = 0; j < cells; j++) {
      const corners = [z[i][j], z[i + 1][j], z[i][j + 1], z[i + 1][j + 1]];
      if (!inside(ring, x0 + (i + 0.5) * step, y0 + (j + 0.5) * step) || corners.some((c) => c === null)) continue;
      const u = new Cesium.Cartesian3(step, 0, (corners[1] + corners[3] - corners[0] - corners[2]) / 2);
      const v = new Cesium.Cartesian3(0, step, (corners[2] + corners[3] - corners[0] - corners[1]) / 2);
      draped += Cesium.Cartesian3.magnitude(Cesium.Cartesian3.cross(u, v, new Cesium.Cartesian3()));
      planar += step * step;
    }
  }
  const exact = ringArea(ring);
  return { planar_m2: exact, surface_m2: planar > 0 ? (exact * draped) / planar : exact };
}

/** Everything the tool reports for `mode` and its picked points. */
export function measureResult(viewer, mode, positions, zone) {
  const points = positions.map(lonLatHeight);
  const result = { mode, points };
  if (mode === "point" && positions.length) {
    const p = points[points.length - 1];
    Object.assign(result, { lon: p.lon, lat: p.lat, height_m: p.height, gk: zone ? toGaussKruger(p.lon, p.lat, zone) : null });
  } else if ((mode === "distance" || mode === "height") && positions.length >= 2) {
    Object.assign(result, distances(positions[0], positions[1]));
  } else if (mode === "polyline" && positions.length >= 2) {
    const legs = positions.slice(1).map((p, i) => distances(positions[i], p));
    result.length_m = legs.reduce((s, l) => s + l.slant_m, 0);
    result.length_horizontal_m = legs.reduce((s, l) => s + l.horizontal_m, 0);
  } else if (mode === "area" && positions.length >= 3) {
    Object.assign(result, surfaceArea(viewer, positions));
  }
  return result;
}

/** The result as label lines in the current language. */
function resultLines(result, zone) {
  const lines = [];
  if ("horizontal_m" in result) {
    if (result.mode === "distance") lines.push([t("measure.horizontal"), formatLength(result.horizontal_m)], [t("measure.slant"), formatLength(result.slant_m)]);
    lines.push([t("measure.dh"), formatLength(result.dh_m)]);
  }
  if ("length_m" in result) lines.push([t("measure.length"), formatLength(result.length_m)], [t("measure.lengthHorizontal"), formatLength(result.length_horizontal_m)]);
  if ("planar_m2" in result) lines.push([t("measure.planar"), formatArea(result.planar_m2)], [t("measure.surface"), formatArea(result.surface_m2)]);
  if ("lon" in result) {
    lines.push([t("measure.lonlat"), `${result.lon.toFixed(7)}°E, ${result.lat.toFixed(7)}°N`]);
    if (result.gk) lines.push([`${t("measure.gk")} ${zone.crs}`, `X ${result.gk.x.toFixed(3)}  Y ${result.gk.y.toFixed(3)}`]);
    lines.push([t("measure.ellipsoidal"), formatLength(result.height_m)]);
  }
  return lines;
}

/** The panel: mode buttons, the result list, finish and clear. */
function buildPanel(state, actions) {
  const panel = document.createElement("div");
  panel.className = "tool-measure";
  const modes = MODES.map((mode) => `<label class="inline"><input type="radio" name="measureMode" value="${mode}"${mode === state.mode ? " checked" : ""}><span data-i18n="measure.${mode}">${t(`measure.${mode}`)}</span></label>`).join("");
  panel.innerHTML = `<div class="modes">${modes}</div><p class="hint" data-i18n="tools.pickHint">${t("tools.pickHint")}</p><dl class="result"></dl>
    <button type="button" class="finish" data-i18n="tools.finish">${t("tools.finish")}</button> <button type="button" class="clear" data-i18n="tools.clear">${t("tools.clear")}</button>`;
  panel.querySelectorAll('input[name="measureMode"]').forEach((input) => input.addEventListener("change", () => actions.setMode(input.value)));
  panel.querySelector(".finish").addEventListener("click", () => actions.finish());
  panel.querySelector(".clear").addEventListener("click", () => actions.clear());
  return panel;
}

/** The measuring tool (see the module comment). */
export function createMeasureTool({ viewer, config }) {
  const zone = config.gauss_kruger || null;
  const layer = toolLayer(viewer, "tools-measure");
  const state = { mode: "distance", positions: [], done: false, result: null };
  const show = () => {
    state.result = measureResult(viewer, state.mode, state.positions, zone);
    const list = panel.querySelector(".result");
    list.innerHTML = "";
    for (const [name, value] of resultLines(state.result, zone)) list.insertAdjacentHTML("beforeend", `<dt>${name}</dt><dd>${value}</dd>`);
    redraw();
  };
  const redraw = () => {
    layer.entities.removeAll();
    state.positions.forEach((p) => addPoint(layer, p));
    const ring = state.mode === "area" && state.done ? [...state.positions, state.positions[0]] : state.positions;
    if (ring.length >= 2 && state.mode !== "point") addLine(layer, ring);
    const lines = resultLines(state.result, zone);
    if (lines.length && state.positions.length) addLabel(layer, state.positions[state.positions.length - 1], lines.map((l) => l.join(" ")).join("\n"));
  };
  const actions = {
    setMode: (mode) => { state.mode = mode; actions.clear(); },
    finish: () => { state.done = true; show(); },
    clear: () => { state.positions = []; state.done = false; show(); },
  };
  const panel = buildPanel(state, actions);
  /** A click adds a snapped point; two-point modes restart after their second point. */
  const addAt = (position) => {
    const point = surfacePoint(viewer, position);
    if (!point) return null;
    if (state.done || (TWO_POINT_MODES.has(state.mode) && state.positions.length >= (state.mode === "point" ? 1 : 2))) { state.positions = []; state.done = false; }
    state.positions.push(point);
    if (state.mode !== "polyline" && state.mode !== "area" && state.positions.length === (state.mode === "point" ? 1 : 2)) state.done = true;
    show();
    return lonLatHeight(point);
  };
  return {
    id: "measure", titleKey: "tools.measure", panel,
    onClick: addAt,
    activate: () => {},
    deactivate: () => actions.clear(),
    api: { setMode: (m) => { panel.querySelector(`input[value="${m}"]`).checked = true; actions.setMode(m); }, finish: () => { actions.finish(); return state.result; }, clear: actions.clear, result: () => state.result, clickAt: (x, y) => addAt({ x, y }) },
  };
}
