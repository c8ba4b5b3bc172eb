// tools/section.js: a clipping plane through a BIM model or the reality mesh, horizontal
// or vertical, moved with a slider or by dragging the drawn plane in the scene; and the
// storey cut of a BIM model (that storey and everything below it stay).
// Planes are in the tileset's root frame (its root transform: east-north-up, z up).

import { t, pickLanguage } from "../i18n.js";
import { fetchStoreyLevels } from "./requests.js";

const Cesium = window.Cesium;

/** The clipping plane keeping the side behind `offset` along direction `u` (or in front when flipped). */
export function cutPlane(u, offset, flip = false) {
  return flip ? new Cesium.ClippingPlane(u, -offset) : new Cesium.ClippingPlane(Cesium.Cartesian3.negate(u, new Cesium.Cartesian3()), offset);
}

/** Unit direction of the cut: up for horizontal, the heading (degrees from north) otherwise. */
function cutDirection(state) {
  if (state.orientation === "horizontal") return new Cesium.Cartesian3(0, 0, 1);
  const a = Cesium.Math.toRadians(state.heading);
  return new Cesium.Cartesian3(Math.sin(a), Math.cos(a), 0);
}

/** Where the tileset's root frame sits (Cartesian3) and its radius. */
function frameOf(tileset) {
  const origin = Cesium.Matrix4.getTranslation(tileset.root.computedTransform, new Cesium.Cartesian3());
  return { origin, radius: tileset.boundingSphere.radius };
}

/** The panel: target, orientation, offset slider, heading, flip, storey cut. */
function buildPanel() {
  const panel = document.createElement("div");
  panel.className = "tool-section";
  panel.innerHTML = `<label><span data-i18n="section.target">${t("section.target")}</span><select class="target"></select></label>
    <label class="inline"><input type="radio" name="cutOrientation" value="off" checked><span data-i18n="section.off">${t("section.off")}</span></label>
    <label class="inline"><input type="radio" name="cutOrientation" value="horizontal"><span data-i18n="section.horizontal">${t("section.horizontal")}</span></label>
    <label class="inline"><input type="radio" name="cutOrientation" value="vertical"><span data-i18n="section.vertical">${t("section.vertical")}</span></label>
    <label><span data-i18n="section.offset">${t("section.offset")}</span> <output class="offsetValue"></output><input type="range" class="offset" step="0.1"></label>
    <label><span data-i18n="section.heading">${t("section.heading")}</span><input type="number" class="heading" value="0" step="5"></label>
    <label class="inline"><input type="checkbox" class="flip"><span data-i18n="section.flip">${t("section.flip")}</span></label>
    <label><span data-i18n="section.storey">${t("section.storey")}</span><select class="storey"></select></label>
    <p class="hint" data-i18n="section.dragHint">${t("section.dragHint")}</p>`;
  return panel;
}

/** Drag the drawn plane: mouse down on it, move, up. Moves the offset by the mouse's
 * vertical travel times the size of a pixel at the plane (up / away = more). */
function dragHandler(viewer, currentPlane, state, apply) {
  const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
  let dragging = false;
  handler.setInputAction((e) => {
    const picked = viewer.scene.pick(e.position);
    if (picked && picked.id && picked.id === currentPlane()) { dragging = true; viewer.scene.screenSpaceCameraController.enableInputs = false; }
  }, Cesium.ScreenSpaceEventType.LEFT_DOWN);
  handler.setInputAction((e) => {
    if (!dragging || !state.tileset) return;
    const sphere = state.tileset.boundingSphere;
    const pixel = viewer.camera.getPixelSize(sphere, viewer.scene.drawingBufferWidth, viewer.scene.drawingBufferHeight);
    apply(state.offset + (e.startPosition.y - e.endPosition.y) * pixel);
  }, Cesium.ScreenSpaceEventType.MOUSE_MOVE);
  handler.setInputAction(() => { dragging = false; viewer.scene.screenSpaceCameraController.enableInputs = true; }, Cesium.ScreenSpaceEventType.LEFT_UP);
  return handler;
}

/** The section tool (see the module comment). */
export function createSectionTool({ app, viewer }) {
  const panel = buildPanel();
  const state = { tilesetId: null, tileset: null, orientation: "off", offset: 0, heading: 0, flip: false, storeys: [], storey: "" };
  const field = (name) => panel.querySelector(`.${name}`);
  let planeEntity = null, handler = null;

  /** Apply the state: one clipping plane on the target (none when off), and its drawing. */
  const apply = (offset = state.offset) => {
    state.offset = offset;
    field("offset").value = String(offset);
    field("offsetValue").textContent = `${offset.toFixed(2)} m`;
    for (const tileset of app.tilesets.values()) if (tileset !== state.tileset && tileset.clippingPlanes) tileset.clippingPlanes.removeAll();
    if (!state.tileset) return;
    if (!state.tileset.clippingPlanes) state.tileset.clippingPlanes = new Cesium.ClippingPlaneCollection({ edgeWidth: 1.0, edgeColor: Cesium.Color.ORANGE });
    state.tileset.clippingPlanes.removeAll();
    if (state.orientation !== "off") state.tileset.clippingPlanes.add(cutPlane(cutDirection(state), offset, state.flip));
    drawPlane();
  };
  /** The translucent plane entity at the cut (pickable, so it can be dragged); it
   * follows the state through a callback, so dragging does not rebuild it. */
  const drawPlane = () => {
    const wanted = state.orientation === "off" || !state.tileset ? null : state.tileset;
    if (planeEntity && planeEntity.cimtwinTileset === wanted) return;
    if (planeEntity) viewer.entities.remove(planeEntity);
    planeEntity = null;
    if (!wanted) return;
    const { origin, radius } = frameOf(wanted);
    const plane = new Cesium.CallbackProperty(() => new Cesium.Plane(Cesium.Cartesian3.negate(cutDirection(state), new Cesium.Cartesian3()), state.offset), false);
    planeEntity = viewer.entities.add({
      position: origin,
      plane: { plane, dimensions: new Cesium.Cartesian2(radius * 2.2, radius * 2.2), material: Cesium.Color.ORANGE.withAlpha(0.15), outline: true, outlineColor: Cesium.Color.ORANGE },
    });
    planeEntity.cimtwinTileset = wanted;
  };
  /** The slider's range follows the target's size. */
  const setRange = () => {
    const r = state.tileset ? Math.ceil(state.tileset.boundingSphere.radius) : 100;
    Object.assign(field("offset"), { min: String(-r), max: String(r) });
  };
  /** Pick the model to cut; BIM models offer their storeys. */
  const setTarget = async (id) => {
    state.tilesetId = id;
    state.tileset = app.tilesets.get(id) || null;
    setRange();
    const entry = (app.entries || []).find((e) => e.id === id);
    state.storeys = entry && entry.kind === "bim" ? (await fetchStoreyLevels(id)).body.storeys || [] : [];
    field("storey").innerHTML = `<option value="">—</option>` + state.storeys.map((s) => `<option>${s.name}</option>`).join("");
    apply();
  };
  /** Storey cut: a horizontal cut just under the next storey's lowest point. */
  const cutAtStorey = (name) => {
    state.storey = name;
    const i = state.storeys.findIndex((s) => s.name === name);
    if (i < 0) { state.orientation = "off"; apply(); return null; }
    const next = state.storeys[i + 1];
    const top = next ? next.bottom_local_m - 0.005 : state.storeys[i].top_local_m + 0.01;
    Object.assign(state, { orientation: "horizontal", flip: false });
    panel.querySelector('input[value="horizontal"]').checked = true;
    apply(top);
    return top;
  };

  field("target").addEventListener("change", () => setTarget(field("target").value));
  panel.querySelectorAll('input[name="cutOrientation"]').forEach((input) => input.addEventListener("change", () => { state.orientation = input.value; apply(); }));
  field("offset").addEventListener("input", () => apply(Number(field("offset").value)));
  field("heading").addEventListener("change", () => { state.heading = Number(field("heading").value) || 0; apply(); });
  field("flip").addEventListener("change", () => { state.flip = field("flip").checked; apply(); });
  field("storey").addEventListener("change", () => cutAtStorey(field("storey").value));

  const listTargets = () => {
    const entries = (app.entries || []).filter((e) => app.tilesets && app.tilesets.has(e.id) && e.kind !== "buildings");
    field("target").innerHTML = entries.map((e) => `<option value="${e.id}">${pickLanguage(e.name || e.id)}</option>`).join("");
    const preferred = entries.find((e) => e.kind === "bim") || entries[0];
    return preferred ? setTarget(state.tilesetId || preferred.id) : Promise.resolve();
  };
  return {
    id: "section", titleKey: "tools.section", panel,
    activate: () => { handler = dragHandler(viewer, () => planeEntity, state, apply); listTargets(); },
    deactivate: () => { handler && handler.destroy(); handler = null; state.orientation = "off"; panel.querySelector('input[value="off"]').checked = true; apply(); },
    refresh: listTargets,
    api: {
      setTarget: (id) => { field("target").value = id; return setTarget(id); },
      cut: (orientation, offset, heading = 0, flip = false) => { Object.assign(state, { orientation, heading, flip }); apply(offset); return state.offset; },
      storeyCut: cutAtStorey,
      storeys: () => state.storeys,
      offset: () => state.offset,
      planeCentre: () => planeEntity && planeEntity.position.getValue(viewer.clock.currentTime),
    },
  };
}
