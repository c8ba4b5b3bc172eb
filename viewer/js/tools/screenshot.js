// tools/screenshot.js: the current view as a PNG with a north arrow (turned to where
// north is on screen), a scale bar (measured at the view's centre) and the date and
// time of the scene in Beijing time. The skyline tool draws onto the same kind of image.

import { t } from "../i18n.js";
import { surfacePoint, enuFrame } from "./scenepick.js";

const Cesium = window.Cesium;

/** Resolve with a 2D canvas holding the next rendered frame (read in postRender, when
 * the WebGL drawing buffer still holds it). */
export function captureFrame(viewer) {
  return new Promise((resolve) => {
    const remove = viewer.scene.postRender.addEventListener((scene) => {
      remove();
      const canvas = document.createElement("canvas");
      [canvas.width, canvas.height] = [scene.canvas.width, scene.canvas.height];
      canvas.getContext("2d").drawImage(scene.canvas, 0, 0);
      resolve(canvas);
    });
    viewer.scene.requestRender();
  });
}

/** Metres per CSS pixel at the centre of the view (two scene points 100 px apart). */
export function metresPerPixel(viewer) {
  const canvas = viewer.scene.canvas;
  const [x, y] = [canvas.clientWidth / 2, canvas.clientHeight / 2];
  const a = surfacePoint(viewer, { x: x - 50, y }), b = surfacePoint(viewer, { x: x + 50, y });
  return a && b ? Cesium.Cartesian3.distance(a, b) / 100 : null;
}

/** Screen angle of north at the view's centre, degrees clockwise from "up". */
export function northAngle(viewer) {
  const canvas = viewer.scene.canvas;
  const centre = surfacePoint(viewer, { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 });
  if (!centre) return 0;
  const north = enuFrame(centre).toWorld(0, 10, 0);
  const p = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, centre);
  const q = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, north);
  return p && q ? Cesium.Math.toDegrees(Math.atan2(q.x - p.x, p.y - q.y)) : 0;
}

/** A round bar length (1, 2 or 5 x 10^n m) that is at most `maxPx` long. */
export function niceBar(mPerPx, maxPx = 150) {
  const limit = mPerPx * maxPx;
  const base = 10 ** Math.floor(Math.log10(limit));
  const metres = [5, 2, 1].map((k) => k * base).find((m) => m <= limit) || base;
  return { metres, pixels: metres / mPerPx };
}

/** Scene time as "YYYY-MM-DD HH:MM" in Beijing time. */
export function beijingDate(viewer) {
  const date = new Date(Cesium.JulianDate.toDate(viewer.clock.currentTime).getTime() + 8 * 3600000);
  return date.toISOString().slice(0, 16).replace("T", " ");
}

/** Draw the north arrow (top right), the scale bar and the date (bottom left). */
export function drawDecorations(canvas, { angle, bar, date, scale }) {
  const g = canvas.getContext("2d");
  g.save();
  g.translate(canvas.width - 50 * scale, 60 * scale);
  g.rotate(Cesium.Math.toRadians(angle));
  g.fillStyle = "#e53935"; g.strokeStyle = "#ffffff"; g.lineWidth = 2 * scale;
  g.beginPath(); g.moveTo(0, -30 * scale); g.lineTo(12 * scale, 15 * scale); g.lineTo(0, 6 * scale); g.lineTo(-12 * scale, 15 * scale); g.closePath(); g.fill(); g.stroke();
  g.fillStyle = "#ffffff"; g.font = `bold ${14 * scale}px sans-serif`; g.textAlign = "center";
  g.fillText(t("shot.north"), 0, -36 * scale);
  g.restore();
  g.fillStyle = "#142030cc"; g.fillRect(10 * scale, canvas.height - 56 * scale, Math.max(bar ? bar.pixels * scale : 0, 170 * scale) + 20 * scale, 46 * scale);
  g.fillStyle = "#ffffff"; g.font = `${13 * scale}px sans-serif`; g.textAlign = "left";
  if (bar) {
    g.fillRect(20 * scale, canvas.height - 24 * scale, bar.pixels * scale, 4 * scale);
    g.fillText(bar.metres >= 1000 ? `${bar.metres / 1000} km` : `${bar.metres} m`, 20 * scale, canvas.height - 30 * scale);
  }
  g.fillText(`${date} (UTC+8)`, 20 * scale, canvas.height - 14 * scale + 2 * scale);
}

/** Save a canvas as a PNG download named `name`. */
export function download(canvas, name) {
  const link = document.createElement("a");
  link.download = name;
  link.href = canvas.toDataURL("image/png");
  document.body.appendChild(link);
  link.click();
  link.remove();
  return link.href;
}

/** The current view with north arrow, scale bar and date; downloads it, returns facts. */
export async function exportScreenshot(viewer) {
  const canvas = await captureFrame(viewer);
  const scale = canvas.width / viewer.scene.canvas.clientWidth;
  const mPerPx = metresPerPixel(viewer);
  const facts = { angle: northAngle(viewer), bar: mPerPx ? niceBar(mPerPx) : null, date: beijingDate(viewer), scale };
  drawDecorations(canvas, facts);
  const name = `cimtwin-${facts.date.replace(/[-: ]/g, "").slice(0, 12)}.png`;
  const dataUrl = download(canvas, name);
  return { name, width: canvas.width, height: canvas.height, metresPerPixel: mPerPx, northAngleDeg: facts.angle, bar: facts.bar, date: facts.date, bytes: Math.round((dataUrl.length * 3) / 4) };
}

/** The screenshot tool: one button. */
export function createScreenshotTool({ viewer }) {
  const panel = document.createElement("div");
  panel.innerHTML = `<button type="button" class="export" data-i18n="shot.export">${t("shot.export")}</button><p class="facts"></p>`;
  let last = null;
  const run = async () => {
    last = await exportScreenshot(viewer);
    panel.querySelector(".facts").textContent = `${last.name} ${last.bar ? `${last.bar.metres} m` : ""}`;
    return last;
  };
  panel.querySelector(".export").addEventListener("click", run);
  return { id: "screenshot", titleKey: "tools.screenshot", panel, activate: () => {}, deactivate: () => {}, api: { run, last: () => last } };
}
