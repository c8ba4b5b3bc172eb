// tools/sightline.js: lines of sight and a viewshed. The observer is a picked point
// raised by a given height; a target is visible when the surface the eye sees in its
// direction is the target itself, not something nearer (tools/eyeview.js: the depth
// of a view rendered from the eye). The viewshed takes the surface points of the
// user's view inside the angle and range, and tests each the same way.

import { t } from "../i18n.js";
import { surfacePoint, lonLatHeight, toolLayer, addPoint, addLine, addLabel, withoutOverlaysAsync, raised } from "./scenepick.js";
import { withEyeView, headingPitchOf, viewsFor } from "./eyeview.js";

const Cesium = window.Cesium;
/** A target counts as visible when the eye sees a surface no nearer than this (m, or
 * 2 % of the distance): the depth of the target's own pixel is that close to it. */
const TARGET_TOLERANCE_M = 1.0;

/** For each point: visible from `eye` or not, its distance and that of the seen surface. */
export async function linesOfSight(viewer, tilesets, eye, points) {
  const items = points.map((point, index) => {
    const direction = Cesium.Cartesian3.normalize(Cesium.Cartesian3.subtract(point, eye, new Cesium.Cartesian3()), new Cesium.Cartesian3());
    return { index, point, distance_m: Cesium.Cartesian3.distance(eye, point), ...headingPitchOf(eye, direction), visible: false, hit_m: null };
  });
  await withoutOverlaysAsync(viewer, async () => {
    for (const view of viewsFor(items)) {
      await withEyeView(viewer, tilesets, eye, view.heading, view.pitch, (look) => view.items.forEach((item) => {
        const seen = look(item.point);
        item.hit_m = seen.surface ? Cesium.Cartesian3.distance(eye, seen.surface) : null;
        const tolerance = Math.max(TARGET_TOLERANCE_M, 0.02 * item.distance_m);
        // Outside every eye view (too steep up or down): unknown, not "blocked".
        item.visible = seen.onScreen ? item.hit_m === null || item.hit_m >= item.distance_m - tolerance : null;
      }));
    }
  });
  return items.sort((a, b) => a.index - b.index);
}

/** Surface points of the user's current view (a pixel grid) inside the fan: `fov`
 * degrees around `heading` from the eye, out to `range` metres. The grid is dense (the
 * fan is often a small part of the view) and the points inside it are thinned evenly to
 * at most `limit`, so the eye views that test them stay few. */
function viewshedCandidates(viewer, eye, heading, fov, range, columns = 128, rows = 80, limit = 300) {
  const canvas = viewer.scene.canvas;
  const out = [];
  for (let i = 0; i < columns; i++) {
    for (let j = 0; j < rows; j++) {
      const p = viewer.scene.pickPosition(new Cesium.Cartesian2(((i + 0.5) * canvas.clientWidth) / columns, ((j + 0.5) * canvas.clientHeight) / rows));
      if (!Cesium.defined(p)) continue;
      const d = Cesium.Cartesian3.distance(eye, p);
      const dir = Cesium.Cartesian3.normalize(Cesium.Cartesian3.subtract(p, eye, new Cesium.Cartesian3()), new Cesium.Cartesian3());
      const off = ((headingPitchOf(eye, dir).heading - heading + 540) % 360) - 180;
      if (d > 1 && d <= range && Math.abs(off) <= fov / 2) out.push(p);
    }
  }
  const step = Math.max(1, out.length / limit);
  return out.length <= limit ? out : Array.from({ length: limit }, (_, k) => out[Math.floor(k * step)]);
}

/** The panel: observer height, modes, viewshed parameters, results. */
function buildPanel() {
  const panel = document.createElement("div");
  panel.className = "tool-sightline";
  panel.innerHTML = `<label><span data-i18n="sight.observerHeight">${t("sight.observerHeight")}</span><input type="number" class="eyeHeight" value="1.6" step="0.1"></label>
    <label class="inline"><input type="radio" name="sightMode" value="observer" checked><span data-i18n="sight.observer">${t("sight.observer")}</span></label>
    <label class="inline"><input type="radio" name="sightMode" value="target"><span data-i18n="sight.addTarget">${t("sight.addTarget")}</span></label>
    <h4 data-i18n="sight.viewshed">${t("sight.viewshed")}</h4>
    <label><span data-i18n="sight.heading">${t("sight.heading")}</span><input type="number" class="heading" value="0"></label>
    <label><span data-i18n="sight.fov">${t("sight.fov")}</span><input type="number" class="fov" value="90"></label>
    <label><span data-i18n="sight.range">${t("sight.range")}</span><input type="number" class="range" value="200"></label>
    <button type="button" class="run" data-i18n="sight.run">${t("sight.run")}</button> <button type="button" class="clear" data-i18n="tools.clear">${t("tools.clear")}</button>
    <ul class="targets"></ul><p class="share"></p>`;
  return panel;
}

/** The sight-line tool (see the module comment). */
export function createSightlineTool({ app, viewer }) {
  const panel = buildPanel();
  const layer = toolLayer(viewer, "tools-sightline");
  const field = (name) => panel.querySelector(`.${name}`);
  const state = { ground: null, targets: [], viewshed: null };
  const eye = () => raised(viewer.scene, state.ground, Number(field("eyeHeight").value) || 0);
  /** Redraw the observer, every target's line (green visible, red blocked) and the fan. */
  const redraw = () => {
    layer.entities.removeAll();
    field("targets").innerHTML = "";
    if (!state.ground) return;
    addPoint(layer, eye(), Cesium.Color.CYAN);
    state.targets.forEach((target, i) => {
      const color = target.visible ? Cesium.Color.LIME : target.visible === false ? Cesium.Color.RED : Cesium.Color.GRAY;
      addLine(layer, [eye(), target.position], color);
      addPoint(layer, target.position, color);
      const word = t(target.visible ? "sight.visible" : "sight.blocked");
      addLabel(layer, target.position, `${i + 1} ${word}`);
      field("targets").insertAdjacentHTML("beforeend", `<li class="${target.visible ? "visible" : "blocked"}">${i + 1}: ${word} (${target.distance_m.toFixed(1)} m)</li>`);
    });
    for (const sample of (state.viewshed && state.viewshed.samples) || []) addPoint(layer, sample.position, sample.visible ? Cesium.Color.LIME.withAlpha(0.8) : Cesium.Color.RED.withAlpha(0.8));
  };
  /** Test every target from the current observer. */
  const retest = async () => {
    if (!state.ground) return;
    const results = await linesOfSight(viewer, app.tilesets.values(), eye(), state.targets.map((x) => x.position));
    results.forEach((r, i) => Object.assign(state.targets[i], { visible: r.visible, distance_m: r.distance_m, hit_m: r.hit_m }));
    redraw();
  };
  const setObserver = (point) => { state.ground = point; state.viewshed = null; return retest(); };
  const addTarget = (point) => { state.targets.push({ position: point }); return retest(); };
  /** Viewshed over the panel's heading, angle and range (points of the current view). */
  const runViewshed = async () => {
    if (!state.ground) return null;
    const [heading, fov, range] = ["heading", "fov", "range"].map((name) => Number(field(name).value));
    const candidates = viewshedCandidates(viewer, eye(), heading, fov, range);
    const results = await linesOfSight(viewer, app.tilesets.values(), eye(), candidates);
    const samples = results.filter((r) => r.visible !== null).map((r) => ({ position: r.point, visible: r.visible }));
    const share = samples.length ? samples.filter((x) => x.visible).length / samples.length : 0;
    state.viewshed = { samples, share };
    field("share").textContent = t("sight.visibleShare", { share: (share * 100).toFixed(0) });
    redraw();
    return { share, samples: samples.length, visible: samples.filter((x) => x.visible).map((x) => lonLatHeight(x.position)), blocked: samples.filter((x) => !x.visible).map((x) => lonLatHeight(x.position)) };
  };
  const onClick = (position) => {
    const point = surfacePoint(viewer, position);
    if (!point) return;
    const mode = panel.querySelector('input[name="sightMode"]:checked').value;
    return mode === "observer" ? setObserver(point) : addTarget(point);
  };
  field("eyeHeight").addEventListener("change", retest);
  field("run").addEventListener("click", () => runViewshed());
  field("clear").addEventListener("click", () => { Object.assign(state, { ground: null, targets: [], viewshed: null }); redraw(); });
  const describe = () => state.targets.map((x) => ({ visible: x.visible, distance_m: x.distance_m, hit_m: x.hit_m, ...lonLatHeight(x.position) }));
  return {
    id: "sightline", titleKey: "tools.sightline", panel, onClick,
    activate: () => {}, deactivate: () => {}, refresh: redraw,
    api: {
      mode: (m) => { panel.querySelector(`input[value="${m}"]`).checked = true; },
      setEyeHeight: (h) => { field("eyeHeight").value = String(h); return retest(); },
      observer: () => state.ground && { ...lonLatHeight(eye()) },
      targets: describe,
      viewshed: (heading, fov, range) => { field("heading").value = heading; field("fov").value = fov; field("range").value = range; return runViewshed(); },
      clickAt: (x, y) => onClick({ x, y }),
    },
  };
}
