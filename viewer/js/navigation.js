// navigation.js: the map furniture a daily user expects. A compass (turns with the camera,
// a click faces north) with zoom in/out buttons, a scale bar, and a readout of the point
// under the mouse: CGCS2000 lon/lat, the configured Gauss-Kruger zone's northing/easting
// (tools/gausskruger.js, zone from /api/v1/config "gauss_kruger") and its height.
// The widgets are plain DOM laid over the scene; each updates only after a rendered frame.

import { t } from "./i18n.js";
import { toGaussKruger } from "./tools/gausskruger.js";

const Cesium = window.Cesium;
/** Scale bar lengths to choose from: 1, 2, 5 times a power of ten (metres). */
const NICE = [1, 2, 5];
const SCALE_MAX_PX = 120;

/** A DOM element with a class, optional test id and text. */
function el(tag, className, { testId = null, text = "" } = {}) {
  const node = Object.assign(document.createElement(tag), { className, textContent: text });
  if (testId) node.dataset.testid = testId;
  return node;
}

/** The longest "nice" length (1/2/5 x 10^n m) not longer than `metres`. */
export function niceLength(metres) {
  if (!(metres > 0)) return 0;
  const power = 10 ** Math.floor(Math.log10(metres));
  return power * ([...NICE].reverse().find((n) => n * power <= metres) || 1);
}

/** A length as text: "500 m", "2 km". */
function lengthText(metres) {
  return metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
}

/** The globe point under window position (x, y): the city's surface where there is one
 * (depth picking), else the ellipsoid; null off the globe. */
function pointUnder(scene, x, y) {
  const at = new Cesium.Cartesian2(x, y);
  let position = scene.pickPositionSupported ? scene.pickPosition(at) : undefined;
  if (!Cesium.defined(position)) position = scene.camera.pickEllipsoid(at, scene.globe.ellipsoid);
  return Cesium.defined(position) ? Cesium.Cartographic.fromCartesian(position) : null;
}

/** The readout of a point: {lon, lat, height, x, y} (degrees, metres; x north, y east). */
export function readoutOf(cartographic, zone) {
  const lon = Cesium.Math.toDegrees(cartographic.longitude);
  const lat = Cesium.Math.toDegrees(cartographic.latitude);
  const grid = zone ? toGaussKruger(lon, lat, zone) : null;
  return { lon, lat, height: cartographic.height, x: grid ? grid.x : null, y: grid ? grid.y : null };
}

/** Compass, zoom buttons, scale bar and coordinate readout over `viewer`. */
export class NavigationWidgets {
  /** Mount the widgets; `zone` is the /api/v1/config "gauss_kruger" object (or null). */
  constructor(viewer, zone) {
    this.viewer = viewer;
    this.zone = zone && Number.isFinite(zone.central_meridian) ? zone : null;
    this.last = null; // the last readout, for tests
    this.mountControls();
    this.mountStatusBar();
    this.lastCamera = null;
    viewer.scene.postRender.addEventListener(() => this.onFrame());
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    handler.setInputAction((movement) => this.showPointer(movement.endPosition), Cesium.ScreenSpaceEventType.MOUSE_MOVE);
    this.render();
  }

  /** The compass and the zoom buttons, top right of the scene. */
  mountControls() {
    const box = el("div", "nav-controls");
    this.compass = el("button", "nav-compass", { testId: "compass" });
    this.needle = el("span", "needle", { text: "▲" });
    this.compass.append(this.needle, el("span", "north", { text: "N" }));
    this.compass.addEventListener("click", () => this.faceNorth());
    this.zoomIn = el("button", "nav-zoom", { testId: "zoom-in", text: "+" });
    this.zoomOut = el("button", "nav-zoom", { testId: "zoom-out", text: "−" });
    this.zoomIn.addEventListener("click", () => this.zoom(0.5));
    this.zoomOut.addEventListener("click", () => this.zoom(-1));
    for (const button of [this.compass, this.zoomIn, this.zoomOut]) button.type = "button";
    box.append(this.compass, this.zoomIn, this.zoomOut);
    document.body.append(box);
  }

  /** The scale bar and the coordinate readout, bottom of the scene. */
  mountStatusBar() {
    const bar = el("div", "nav-status");
    this.scale = el("div", "nav-scale", { testId: "scale-bar" });
    this.scaleLine = el("span", "line");
    this.scaleText = el("span", "text");
    this.scale.append(this.scaleLine, this.scaleText);
    this.coords = el("div", "nav-coords", { testId: "coords" });
    bar.append(this.scale, this.coords);
    document.body.append(bar);
  }

  /** Texts in the current language (called again after a language switch). */
  render() {
    this.compass.title = t("nav.compass");
    this.zoomIn.title = t("nav.zoomIn");
    this.zoomOut.title = t("nav.zoomOut");
    this.scale.title = t("nav.scale");
    if (this.last) this.showReadout(this.last);
  }

  /** Move the camera toward (fraction > 0) or away from the point at the view's centre by
   * a fraction of its distance to it. */
  zoom(fraction) {
    const camera = this.viewer.camera;
    const canvas = this.viewer.scene.canvas;
    const centre = pointUnder(this.viewer.scene, canvas.clientWidth / 2, canvas.clientHeight / 2);
    const target = centre ? Cesium.Cartographic.toCartesian(centre) : null;
    const distance = target ? Cesium.Cartesian3.distance(camera.positionWC, target) : camera.positionCartographic.height;
    camera.moveForward(distance * fraction);
    this.viewer.scene.requestRender();
  }

  /** Turn the camera to face north, keeping where it looks at and its tilt. */
  faceNorth() {
    const camera = this.viewer.camera;
    camera.setView({ destination: camera.positionWC.clone(), orientation: { heading: 0, pitch: camera.pitch, roll: 0 } });
    this.viewer.scene.requestRender();
  }

  /** After a frame in which the camera moved: turn the needle, redraw the scale bar. */
  onFrame() {
    const camera = this.viewer.camera;
    const key = `${camera.positionWC.toString()}|${camera.heading.toFixed(4)}|${camera.pitch.toFixed(4)}`;
    if (key === this.lastCamera) return;
    this.lastCamera = key;
    this.needle.style.transform = `rotate(${-Cesium.Math.toDegrees(camera.heading)}deg)`;
    this.updateScale();
  }

  /** Scale bar: the ground distance across SCALE_MAX_PX at the bottom centre, rounded down. */
  updateScale() {
    const scene = this.viewer.scene;
    const x = scene.canvas.clientWidth / 2, y = scene.canvas.clientHeight - 40;
    const a = scene.camera.pickEllipsoid(new Cesium.Cartesian2(x, y));
    const b = scene.camera.pickEllipsoid(new Cesium.Cartesian2(x + SCALE_MAX_PX, y));
    if (!a || !b) { this.scale.hidden = true; return; }
    const metresPerPx = Cesium.Cartesian3.distance(a, b) / SCALE_MAX_PX;
    const length = niceLength(metresPerPx * SCALE_MAX_PX);
    this.scale.hidden = false;
    this.scaleMetres = length;
    this.scaleLine.style.width = `${Math.round(length / metresPerPx)}px`;
    this.scaleText.textContent = lengthText(length);
  }

  /** Show the point under the mouse (window position) in the readout. */
  showPointer(position) {
    if (!position) return;
    const where = pointUnder(this.viewer.scene, position.x, position.y);
    if (!where) { this.coords.textContent = ""; this.last = null; return; }
    this.showReadout(readoutOf(where, this.zone));
  }

  /** Write one readout: lon/lat, GK northing/easting and zone name, height. */
  showReadout(r) {
    this.last = r;
    const parts = [`${t("nav.cgcs")} ${t("nav.lon")} ${r.lon.toFixed(6)}° ${t("nav.lat")} ${r.lat.toFixed(6)}°`];
    if (r.x !== null) parts.push(`${this.zone.crs} ${t("nav.north")} ${r.x.toFixed(2)} ${t("nav.east")} ${r.y.toFixed(2)}`);
    parts.push(`${t("nav.height")} ${r.height.toFixed(1)} m`);
    this.coords.textContent = parts.join("  ·  ");
  }
}
