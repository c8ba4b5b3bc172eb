// tools/skyline.js: the skyline of the current view (per screen column, the highest row
// where the scene has a surface: depth picking, binary search down each column), with the
// project's model shown and hidden; both lines drawn on the exported view image.

import { t, pickLanguage } from "../i18n.js";
import { captureFrame, download, beijingDate } from "./screenshot.js";
import { framesRendered } from "./eyeview.js";
import { withoutOverlaysAsync } from "./scenepick.js";

const Cesium = window.Cesium;
const frames = (viewer) => framesRendered(viewer, 2);

/** Row (CSS px from the top) of the skyline in column `x`: the first row with a surface. */
function skylineRow(scene, x, height) {
  const hasSurface = (y) => Cesium.defined(scene.pickPosition(new Cesium.Cartesian2(x, y)));
  if (hasSurface(0)) return 0;
  if (!hasSurface(height - 1)) return height;
  let [sky, ground] = [0, height - 1];
  while (ground - sky > 1) {
    const mid = (sky + ground) >> 1;
    if (hasSurface(mid)) ground = mid; else sky = mid;
  }
  return ground;
}

/** The skyline of the view: one row per `step` columns. */
export function skyline(viewer, step = 4) {
  const { clientWidth: width, clientHeight: height } = viewer.scene.canvas;
  const rows = [];
  for (let x = 0; x < width; x += step) rows.push(skylineRow(viewer.scene, x, height));
  return { step, rows };
}

/** Skylines with and without `tileset` (restored afterwards), and where the model rises. */
export async function compareSkylines(viewer, tileset, step = 4) {
  const shown = tileset.show;
  const [withModel, without] = await withoutOverlaysAsync(viewer, async () => {
    tileset.show = true;
    await frames(viewer);
    const a = skyline(viewer, step);
    tileset.show = false;
    await frames(viewer);
    const b = skyline(viewer, step);
    tileset.show = shown;
    await frames(viewer);
    return [a, b];
  });
  const rise = withModel.rows.map((row, i) => without.rows[i] - row);
  return { step, with: withModel.rows, without: without.rows, maxRisePx: Math.max(0, ...rise), columnsRaised: rise.filter((r) => r > 1).length };
}

/** Draw a skyline polyline onto a captured frame. */
function drawSkyline(canvas, rows, step, colour, scale) {
  const g = canvas.getContext("2d");
  g.strokeStyle = colour; g.lineWidth = 2 * scale;
  g.beginPath();
  rows.forEach((row, i) => (i ? g.lineTo(i * step * scale, row * scale) : g.moveTo(0, row * scale)));
  g.stroke();
}

/** The skyline tool: model to compare, extract, export. */
export function createSkylineTool({ app, viewer }) {
  const panel = document.createElement("div");
  panel.innerHTML = `<label><span data-i18n="skyline.model">${t("skyline.model")}</span><select class="model"></select></label>
    <button type="button" class="run" data-i18n="skyline.run">${t("skyline.run")}</button> <p class="rise"></p>`;
  const field = (name) => panel.querySelector(`.${name}`);
  let last = null;
  /** Compare, then export the view with both lines (red with the model, cyan without). */
  const run = async (id = field("model").value, step = 4) => {
    const tileset = app.tilesets.get(id);
    if (!tileset) return null;
    const result = await compareSkylines(viewer, tileset, step);
    const canvas = await captureFrame(viewer);
    const scale = canvas.width / viewer.scene.canvas.clientWidth;
    drawSkyline(canvas, result.without, step, "#00e5ff", scale);
    drawSkyline(canvas, result.with, step, "#ff1744", scale);
    const name = `cimtwin-skyline-${beijingDate(viewer).replace(/[-: ]/g, "").slice(0, 12)}.png`;
    download(canvas, name);
    last = { ...result, name, tileset: id };
    field("rise").textContent = t("skyline.rise", { px: result.maxRisePx });
    return last;
  };
  const listModels = () => {
    const entries = (app.entries || []).filter((e) => app.tilesets && app.tilesets.has(e.id) && e.kind !== "reality" && e.kind !== "terrain");
    entries.sort((a, b) => (a.kind === "bim" ? -1 : 0) - (b.kind === "bim" ? -1 : 0));
    field("model").innerHTML = entries.map((e) => `<option value="${e.id}">${pickLanguage(e.name || e.id)}</option>`).join("");
  };
  field("run").addEventListener("click", () => run());
  return { id: "skyline", titleKey: "tools.skyline", panel, activate: listModels, deactivate: () => {}, refresh: listModels, api: { run, last: () => last, skyline: (step) => skyline(viewer, step) } };
}
