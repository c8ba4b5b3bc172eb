// projects.js: construction projects for officials and planners. The project card
// (stage, planned and actual milestones, permit, developer, planning limits, "fly to
// BIM"), the stage filter, and stage edits through OGC API Part 4 that every open
// viewer picks up by asking the server what changed (filter=updated_at >= ...).

import { patchItem, fetchItemsChangedSince } from "./api.js";
import { t, label } from "./i18n.js";
import { STAGE_COLOURS, showProjectsAsOf, featureName } from "./layers.js";

const Cesium = window.Cesium;
const STAGES = Object.keys(STAGE_COLOURS);
/** Milestones of the card: [i18n key, planned property, actual property]. */
const MILESTONES = [
  ["project.planning", null, "planned_date"],
  ["project.approval", "approved_date_planned", "approved_date"],
  ["project.start", "start_date_planned", "start_date"],
  ["project.completion", "completion_date_planned", "completion_date"],
];
const DETAILS = [["project.permit", "permit_number"], ["project.developer", "developer"], ["project.maxHeight", "max_height_m"], ["project.far", "far"], ["project.coverage", "coverage"]];
const POLL_MS = 10000;

const state = { viewer: null, layers: null, tilesets: null, entries: [], visible: new Set(STAGES), asOf: null, since: new Map(), current: null, timer: null, polling: true };

/** Turn the periodic "what changed" request on or off (tests ask by hand instead). */
export function setProjectPolling(on) {
  state.polling = Boolean(on);
}

/** Remember the viewer's layers and tilesets; start asking for other users' edits. */
export function initProjects({ viewer, layers, tilesets, entries }) {
  Object.assign(state, { viewer, layers, tilesets, entries: entries || [] });
  for (const [id, layer] of projectLayers()) state.since.set(id, latestUpdate(layer.source));
  if (!state.timer) state.timer = setInterval(() => state.polling && refreshProjects(), POLL_MS);
  document.getElementById("projectCardClose").onclick = () => showProjectCard(null);
}

/** Project layers of the viewer: [[collection id, layer], ...]. */
function projectLayers() {
  return [...(state.layers || new Map()).entries()].filter(([, layer]) => layer.kind === "projects");
}

/** The newest updated_at among a layer's project entities ("" when none has one). */
function latestUpdate(source) {
  return source.entities.values.reduce((max, e) => (e.cimtwin && String(e.cimtwin.properties.updated_at || "") > max ? String(e.cimtwin.properties.updated_at) : max), "");
}

/** Draw one checkbox per stage; unticking one hides the projects in that stage. */
export function renderStageFilter(container) {
  const title = Object.assign(document.createElement("h4"), { textContent: t("project.filter") });
  const boxes = STAGES.map((stage) => {
    const item = Object.assign(document.createElement("label"), { className: "inline" });
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: state.visible.has(stage) });
    box.dataset.testid = `stage-${stage}`;
    box.addEventListener("change", () => { box.checked ? state.visible.add(stage) : state.visible.delete(stage); restyleAll(); });
    item.append(box, document.createTextNode(label("stage", stage)));
    return item;
  });
  container.replaceChildren(title, ...boxes);
  container.hidden = projectLayers().length === 0;
}

/** The date the planner looks at (null: as recorded); the stage filter still applies. */
export function setProjectsAsOf(isoDate) {
  state.asOf = isoDate || null;
  restyleAll();
}

/** Colour every project by its stage on the chosen date, then hide filtered-out stages. */
function restyleAll() {
  for (const [, layer] of projectLayers()) {
    showProjectsAsOf(layer.source, state.asOf);
    layer.source.entities.values.forEach((e) => { if (e.cimtwin && e.show) e.show = state.visible.has(e.cimtwin.stage); });
  }
}

/** Entities drawing one project feature. */
function entitiesOf(collection, featureId) {
  const layer = state.layers && state.layers.get(collection);
  if (!layer) return [];
  return layer.source.entities.values.filter((e) => e.cimtwin && e.cimtwin.featureId === featureId);
}

/** Take a feature as the server now has it: new properties on its entities, restyled. */
function adopt(collection, feature) {
  entitiesOf(collection, feature.id).forEach((e) => (e.cimtwin.properties = feature.properties));
  const since = state.since.get(collection) || "";
  if (String(feature.properties.updated_at || "") > since) state.since.set(collection, String(feature.properties.updated_at));
  restyleAll();
  if (state.current && state.current.collection === collection && state.current.featureId === feature.id) {
    showProjectCard({ ...state.current, properties: feature.properties });
  }
}

/** Ask the server which projects changed since we last looked; resolves to how many. */
export async function refreshProjects() {
  let changed = 0;
  for (const [id] of projectLayers()) {
    const body = await fetchItemsChangedSince(id, state.since.get(id) || "");
    for (const feature of body.features || []) {
      const known = entitiesOf(id, feature.id)[0];
      if (known && known.cimtwin.properties.updated_at === feature.properties.updated_at) continue;
      adopt(id, feature);
      changed += 1;
    }
  }
  return changed;
}

/** One "label: value" row of the card. */
function row(caption, value) {
  const tr = document.createElement("tr");
  tr.append(Object.assign(document.createElement("th"), { textContent: caption }), Object.assign(document.createElement("td"), { textContent: value ?? "—" }));
  return tr;
}

/** The milestones table: planned and actual date of each. */
function milestoneTable(props) {
  const table = document.createElement("table");
  const head = document.createElement("tr");
  for (const text of [t("project.milestones"), t("project.planned"), t("project.actual")]) head.append(Object.assign(document.createElement("th"), { textContent: text }));
  table.append(head);
  for (const [key, planned, actual] of MILESTONES) {
    const tr = document.createElement("tr");
    for (const text of [t(key), planned ? props[planned] : null, props[actual]]) tr.append(Object.assign(document.createElement("td"), { textContent: text ? String(text).slice(0, 10) : "—" }));
    table.append(tr);
  }
  return table;
}

/** The stage selector (the server decides whether this user may change it). */
function stageSelect(description) {
  const select = document.createElement("select");
  select.id = "projectStage";
  for (const stage of STAGES) select.append(Object.assign(document.createElement("option"), { value: stage, textContent: label("stage", stage) }));
  select.value = description.properties.stage;
  select.addEventListener("change", () => changeStage(description, select.value));
  return select;
}

/** PATCH the stage; on success every entity of the project takes the server's answer. */
async function changeStage(description, stage) {
  const message = document.getElementById("projectMessage");
  message.textContent = t("project.saving");
  const result = await patchItem(description.collection, description.featureId, { stage });
  if (!result.ok) {
    message.textContent = t("project.saveFailed", { detail: result.detail });
    document.getElementById("projectStage").value = description.properties.stage;
    return;
  }
  adopt(description.collection, result.feature);
  document.getElementById("projectMessage").textContent = t("project.saved");
}

/** The BIM tileset of a project: its bim_tileset link, else a BIM model on its lot. */
function bimTilesetOf(props, collection, featureId) {
  const linked = props.bim_tileset && state.tilesets && state.tilesets.get(props.bim_tileset);
  if (linked) return linked;
  const entity = entitiesOf(collection, featureId)[0];
  const ring = entity && entity.polygon ? entity.polygon.hierarchy.getValue(Cesium.JulianDate.now()).positions : [];
  if (!ring.length) return null;
  const centre = Cesium.Cartographic.fromCartesian(Cesium.BoundingSphere.fromPoints(ring).center);
  const [lon, lat] = [Cesium.Math.toDegrees(centre.longitude), Cesium.Math.toDegrees(centre.latitude)];
  const onLot = state.entries.find((e) => e.kind === "bim" && Array.isArray(e.bounds) && e.bounds[0] <= lon && lon <= e.bounds[2] && e.bounds[1] <= lat && lat <= e.bounds[3]);
  return onLot && state.tilesets ? state.tilesets.get(onLot.id) || null : null;
}

/** Show the card of a picked project (description from picking.js). */
export function showProjectCard(description) {
  const card = document.getElementById("projectCard");
  if (!description || description.kind !== "projects") { card.hidden = true; state.current = null; return; }
  state.current = description;
  const props = description.properties;
  const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
  swatch.style.background = STAGE_COLOURS[props.stage] || "#aaaaaa";
  const title = Object.assign(document.createElement("h3"), { textContent: featureName(props) });
  title.prepend(swatch);
  const details = document.createElement("table");
  details.append(row(t("project.stage"), ""));
  details.rows[0].cells[1].replaceChildren(stageSelect(description));
  DETAILS.forEach(([key, prop]) => details.append(row(t(key), props[prop])));
  const bim = bimTilesetOf(props, description.collection, description.featureId);
  const fly = Object.assign(document.createElement("button"), { type: "button", id: "projectFlyToBim", textContent: t(bim ? "project.flyToBim" : "project.noBim"), disabled: !bim });
  fly.addEventListener("click", () => bim && state.viewer.flyTo(bim, { duration: 1.5 }));
  const message = Object.assign(document.createElement("div"), { id: "projectMessage", className: "message" });
  document.getElementById("projectCardBody").replaceChildren(title, details, milestoneTable(props), fly, message);
  card.hidden = false;
}
