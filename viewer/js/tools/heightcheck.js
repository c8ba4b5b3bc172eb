// tools/heightcheck.js: the server's height check (控高) of a BIM model against a limit,
// with the elements above the limit coloured red in the scene (also in tiles that load
// later), and the server's floor-area estimate with its method.

import { t, pickLanguage } from "../i18n.js";
import { fetchHeightCheck, fetchFloorArea } from "./requests.js";

const Cesium = window.Cesium;
const EXCEEDING = Cesium.Color.RED;

/** Call `fn(feature)` for every feature of the tileset's loaded tiles. */
export function forEachLoadedFeature(tileset, fn) {
  const stack = [tileset.root];
  while (stack.length) {
    const tile = stack.pop();
    const content = tile.content;
    const contents = content && content.innerContents ? content.innerContents : [content];
    for (const c of contents) for (let i = 0; c && i < (c.featuresLength || 0); i++) fn(c.getFeature(i));
    stack.push(...(tile.children || []));
  }
}

/** Paint features red whose GlobalId is in `ids`, the others back to white. */
function paint(tileset, ids) {
  forEachLoadedFeature(tileset, (feature) => {
    const red = ids.has(String(feature.getProperty("GlobalId")));
    feature.color = red ? EXCEEDING : Cesium.Color.WHITE;
  });
}

/** The panel: model, limit, optional ground, run, result lines. */
function buildPanel() {
  const panel = document.createElement("div");
  panel.className = "tool-heightcheck";
  panel.innerHTML = `<label><span data-i18n="heightcheck.model">${t("heightcheck.model")}</span><select class="model"></select></label>
    <label><span data-i18n="heightcheck.limit">${t("heightcheck.limit")}</span><input type="number" class="limit" step="0.1" min="0"></label>
    <label><span data-i18n="heightcheck.ground">${t("heightcheck.ground")}</span><input type="number" class="ground" step="0.1"></label>
    <button type="button" class="run" data-i18n="heightcheck.run">${t("heightcheck.run")}</button> <button type="button" class="clear" data-i18n="tools.clear">${t("tools.clear")}</button>
    <p class="verdict"></p><p class="base"></p><p class="floorArea"></p>`;
  return panel;
}

/** The height-check tool (see the module comment). */
export function createHeightCheckTool({ app }) {
  const panel = buildPanel();
  const field = (name) => panel.querySelector(`.${name}`);
  const state = { result: null, floor: null, ids: new Set(), tileset: null, listener: null };
  /** Show the last answers in the current language. */
  const render = () => {
    const r = state.result;
    if (!r) { ["verdict", "base", "floorArea"].forEach((n) => (field(n).textContent = "")); return; }
    if (r.error) { field("verdict").textContent = t("heightcheck.failed", { detail: r.error }); return; }
    field("verdict").textContent = t(r.pass ? "heightcheck.pass" : "heightcheck.fail", { height: r.height_m.toFixed(2), limit: r.limit_m, count: r.exceeding.length });
    field("verdict").className = `verdict ${r.pass ? "pass" : "fail"}`;
    field("base").textContent = `${t(`heightcheck.base.${r.base}`)} (${r.base_m.toFixed(2)} m)`;
    const f = state.floor;
    field("floorArea").textContent = f ? t("heightcheck.floorArea", { area: f.floor_area_m2.toFixed(1), method: f.method }) : "";
  };
  /** Stop colouring the previous model. */
  const unpaint = () => {
    if (state.listener) state.listener();
    if (state.tileset) paint(state.tileset, new Set());
    Object.assign(state, { listener: null, tileset: null, ids: new Set() });
  };
  /** Ask the server, colour the exceeding elements, show the verdict. */
  const run = async (id = field("model").value, limit = field("limit").value, ground = field("ground").value) => {
    unpaint();
    const [check, floor] = await Promise.all([fetchHeightCheck(id, limit, ground), fetchFloorArea(id)]);
    state.result = check.ok ? check.body : { error: check.body.detail || String(check.status) };
    state.floor = floor.ok ? floor.body : null;
    const tileset = app.tilesets.get(id);
    if (check.ok && tileset) {
      state.ids = new Set(check.body.exceeding.map((e) => e.GlobalId));
      state.tileset = tileset;
      paint(tileset, state.ids);
      // Tiles that load later (the camera moves closer) are coloured as they arrive.
      state.listener = tileset.tileLoad.addEventListener(() => paint(tileset, state.ids));
    }
    render();
    return state.result;
  };
  const listModels = () => {
    const models = (app.entries || []).filter((e) => e.kind === "bim" && app.tilesets && app.tilesets.has(e.id));
    const current = field("model").value;
    field("model").innerHTML = models.map((e) => `<option value="${e.id}">${pickLanguage(e.name || e.id)}</option>`).join("");
    if (current) field("model").value = current;
  };
  field("run").addEventListener("click", () => run());
  field("clear").addEventListener("click", () => { unpaint(); state.result = null; render(); });
  /** GlobalIds of loaded features painted red now (the test hook reads this). */
  const redFeatures = () => {
    const out = new Set();
    if (state.tileset) forEachLoadedFeature(state.tileset, (f) => Cesium.Color.equals(f.color, EXCEEDING) && out.add(String(f.getProperty("GlobalId"))));
    return [...out].sort();
  };
  return {
    id: "heightcheck", titleKey: "tools.heightcheck", panel,
    activate: listModels, deactivate: () => {}, refresh: () => { listModels(); render(); },
    api: { run, redFeatures, result: () => state.result, floorArea: () => state.floor },
  };
}
