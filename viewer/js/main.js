// main.js: boots the viewer and wires the modules together. Cesium logic lives in
// scene/tilesets/layers/metrics/bim/picking; DOM in panel/inspector; URLs in api.
// window.cimtwin is a small hook the browser tests (tests/browser) drive.

import { adoptTokenFromUrl, fetchConfig, fetchTilesets, fetchCollections, fetchItems, fetchBimStoreys, fetchBimClasses, fetchBimTree } from "./api.js";
import { setLanguage, getLanguage, onLanguageChange, t, translatePage, pickLanguage, dictionaries } from "./i18n.js";
import { createViewer, homeOf, flyHome, flyToPoint, lookDownAt, windowPositionOf, requestRender } from "./scene.js";
import { SearchBox } from "./search.js";
import { cameraOf, setCamera, viewToText, viewFromText, writeViewToUrl, BookmarkPanel } from "./view.js";
import { createStats, loadTilesets, setTilesetVisible, allTilesetsLoaded } from "./tilesets.js";
import { loadLayer, setLayerVisible, relabelLayer, showProjectsAsOf, featureName, STAGE_COLOURS } from "./layers.js";
import { SensorLayer, historyFrom, styleBuildings, rampColour, LEVEL_COLOURS, STALE_COLOUR } from "./metrics.js";
import { decorateLayerTree } from "./layertree.js";
import { NavigationWidgets } from "./navigation.js";
import { SensorChart } from "./charts.js";
import { ElementTree } from "./bimtree.js";
import { Timeline, projectOfModel, phaseOn } from "./timeline.js";
import { mountCompare } from "./comparepanel.js";
import { createBimState, applyBimState, collectBimIndex, namesFrom, GLOBAL_ID_PROPERTY } from "./bim.js";
import { pickAt as pickScene, enrichBimDescription, describePicked } from "./picking.js";
import { Inspector } from "./inspector.js";
import { renderToggles, renderLegend, BimPanel } from "./panel.js";
import { AlarmPanel } from "./alarms.js";
import { ProjectClipping, projectsOf, renderClipToggles } from "./clipping.js";
import { initProjects, renderStageFilter, setProjectsAsOf, showProjectCard, refreshProjects, setProjectPolling } from "./projects.js";
import { initLogin } from "./login.js";
import { mountTools } from "./tools/toolbar.js";
import { clusterLayer, legibleLayer, raiseEntity, clusterMembers, LabelDeclutter, countLabelOverlaps, setLayerOpacity } from "./declutter.js";

const Cesium = window.Cesium;
const app = { errors: [], layers: new Map(), bim: new Map(), metricsOk: false };

/** Put a translated message in the top bar. */
function setStatus(key, params = {}) {
  const el = document.getElementById("status");
  el.dataset.i18n = key;
  el.dataset.i18nParams = JSON.stringify(params);
  el.textContent = t(key, params);
}

/** Load every catalog tileset and list them in the panel. */
async function loadModels() {
  app.entries = await fetchTilesets();
  app.tilesets = await loadTilesets(app.viewer, app.entries, app.stats, () => {}, onTileLoadHook);
  renderTilesetToggles();
}

/** One toggle per loaded tileset, captions in the current language. */
function renderTilesetToggles() {
  const items = app.entries.filter((e) => app.tilesets.has(e.id)).map((e) => ({ id: e.id, caption: pickLanguage(e.name || e.id), kind: e.kind, visible: app.tilesets.get(e.id).show }));
  renderToggles(document.getElementById("tilesetList"), items, (id, visible) => setTilesetVisible(app.tilesets.get(id), visible), "tileset", (id) => zoomToTileset(id));
}

/** Show a tileset and fly so it fills the view. */
function zoomToTileset(id) {
  const tileset = app.tilesets.get(id);
  setTilesetVisible(tileset, true);
  renderTilesetToggles();
  return app.viewer.flyTo(tileset, { duration: 1.5 });
}

/** Show a GIS layer (fetching it if needed) and fly so its features fill the view. */
async function zoomToLayer(id) {
  const layer = app.layers.get(id);
  await setLayerVisible(layer, true);
  renderLayerToggles();
  return app.viewer.flyTo(layer.source, { duration: 1.5 });
}

/** One toggle per GIS layer, and the stage legend when a project layer is shown. */
function renderLayerToggles() {
  const items = [...app.layers.entries()].map(([id, layer]) => ({ id, caption: pickLanguage(layer.title || id), kind: layer.kind, visible: layer.source.show }));
  renderToggles(document.getElementById("gisList"), items, (id, visible) => setLayerVisible(app.layers.get(id), visible).then(() => requestRender(app.viewer)), "layer", (id) => zoomToLayer(id));
  const styles = { stageColours: STAGE_COLOURS, ramp: rampColour, levels: { ...LEVEL_COLOURS, stale: STALE_COLOUR } };
  decorateLayerTree(document.getElementById("gisList"), app.layers, styles, (id, opacity) => onLayerOpacity(id, opacity));
  const hasProjects = [...app.layers.values()].some((l) => l.kind === "projects");
  if (hasProjects) renderLegend(document.getElementById("legend"), STAGE_COLOURS);
  document.getElementById("asOf").hidden = !hasProjects;
}

/** The layer tree's opacity slider moved (layertree.js): fade that layer. */
function onLayerOpacity(id, opacity) {
  const layer = app.layers.get(id);
  layer.opacity = opacity;
  setLayerOpacity(layer.source, opacity, () => layer.kind === "projects" && onAsOfDate(document.getElementById("asOfDate").value));
  requestRender(app.viewer);
}

/** Recolour every project layer for the date the planner picked (empty: as recorded). */
function onAsOfDate(isoDate) {
  app.layers.forEach((layer) => layer.kind === "projects" && showProjectsAsOf(layer.source, isoDate));
  setProjectsAsOf(isoDate); // projects.js: the stage filter applies on every date
  if (app.timeline) app.timeline.sync(isoDate); // timeline.js: the slider shows the same day
  followProjectDates(isoDate);
  requestRender(app.viewer);
}

/** Project entities of every projects layer. */
function projectEntities() {
  return [...app.layers.values()].filter((l) => l.kind === "projects").flatMap((l) => l.source.entities.values.filter((e) => e.cimtwin));
}

/** BIM models of a project follow its dates (timeline.js): hidden before construction,
 * translucent while under construction, as built after; no date: as they are. */
function followProjectDates(isoDate) {
  const projects = projectEntities();
  for (const [id, model] of app.bim) {
    const entry = app.entries.find((e) => e.id === id);
    const phase = phaseOn(entry && projectOfModel(entry, projects), isoDate);
    if (model.state.phase === phase) continue;
    model.state.phase = phase;
    applyBimState(model.tileset, model.state);
  }
}

/** The timeline over the projects' milestones (timeline.js), driving the date field. */
function createTimeline() {
  const input = document.getElementById("asOfDate");
  app.timeline = new Timeline(document.getElementById("timeline"), (isoDate) => { input.value = isoDate; onAsOfDate(isoDate); });
  const projects = new Map(projectEntities().map((e) => [`${e.cimtwin.collection}/${e.cimtwin.featureId}`, e.cimtwin.properties])); // one per feature, not per polygon
  app.timeline.setProjects([...projects.values()], input.value);
}

/** The two-date split compare (compare.js, comparepanel.js). */
function createCompare() {
  const projectLayerList = () => [...app.layers.values()].filter((l) => l.kind === "projects");
  app.compare = mountCompare({
    viewer: app.viewer, tilesets: app.tilesets, entries: app.entries, bim: app.bim,
    projects: () => {
      const latest = new Map(projectEntities().map((e) => [e.cimtwin.featureId, e.cimtwin.properties])); // edits since the load
      return projectLayerList().flatMap((l) => l.features || []).filter((f) => f.geometry).map((f) => ({ properties: latest.get(f.id) || f.properties || {}, rings: ringsOf(f.geometry) }));
    },
    projectOf: (entry) => projectOfModel(entry, projectEntities()),
    projectSources: () => projectLayerList().map((l) => l.source),
    defaultDateA: () => (app.timeline && app.timeline.milestones.length ? app.timeline.milestones[0].date : ""),
  });
}

/** Outer and inner rings of a GeoJSON (Multi)Polygon, lon/lat. */
function ringsOf(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  return geometry.type === "MultiPolygon" ? geometry.coordinates.flat() : [];
}

/** Called for each new tileset before its tiles load: BIM models start their index. */
function onTileLoadHook(tileset, entry) {
  if (entry.kind !== "bim") return;
  const index = collectBimIndex(tileset, () => refreshBimPanel());
  app.bim.set(entry.id, { tileset, index, state: createBimState(), server: null });
}

/** Load the OGC collections: sensors as the live layer, the others as GIS layers. */
async function loadGisLayers() {
  const collections = await fetchCollections();
  for (const collection of collections) {
    if (collection.kind === "sensors") await loadSensors(collection);
    else app.layers.set(collection.id, Object.assign(await loadLayer(app.viewer, collection), { kind: collection.kind, title: collection.title }));
    makeLegible(app.layers.get(collection.id));
  }
  renderLayerToggles();
  initProjects({ viewer: app.viewer, layers: app.layers, tilesets: app.tilesets, entries: app.entries });
  renderStageFilter(document.getElementById("stageFilter"));
  createTimeline();
  createCompare();
}

/** Points cluster when zoomed out, labels scale/fade and are depth-tested (declutter.js). */
function makeLegible(layer) {
  if (layer.kind !== "facilities" && layer.kind !== "sensors") return;
  legibleLayer(layer.source);
  clusterLayer(layer.source, layer.kind === "sensors" ? "#0e7490" : "#1f6feb");
}

/** Load the sensors collection, their latest values, and subscribe to the live stream. */
async function loadSensors(collection) {
  const sensors = new SensorLayer(app.viewer, collection.id);
  const body = await fetchItems(collection.id);
  await sensors.addSensors(body.features || []);
  app.sensors = sensors;
  app.layers.set(collection.id, { source: sensors.source, count: sensors.entities.size, kind: "sensors", title: collection.title });
  sensors.onObservation((o) => refreshInspectedSensor(o));
  sensors.onAlarm((alarm) => app.alarmPanel.apply(alarm));
  sensors.onReset(() => app.alarmPanel.load());
  sensors.onObservation(() => scheduleBuildingStyle());
  await sensors.loadRegistry();
  await sensors.loadLatest();
  scheduleBuildingStyle();
  sensors.subscribe((ok) => {
    scheduleBuildingStyle();
    app.metricsOk = ok;
    if (!ok) setStatus("status.streamLost");
    else if (app.readyStatus) setStatus(...app.readyStatus);
  });
}

/** Projects cut the reality mesh: one toggle per project of every projects layer. */
function setupClipping() {
  app.clipping = new ProjectClipping(app.viewer, app.tilesets, app.entries);
  app.clipProjects = [...app.layers.values()].filter((l) => l.kind === "projects").flatMap((l) => projectsOf(l.features || []));
  renderClipPanel();
}

/** Draw the clipping toggles (again after a language switch). */
function renderClipPanel() {
  const container = document.getElementById("clipPanel");
  if (!container || !app.clipping) return;
  renderClipToggles(container, app.clipProjects, app.clipping, (project, on) => app.clipping.setClipped(project.id, on ? project.rings : null));
}

/** Colour the buildings tileset by its sensors' energy use, at most every 2 s. */
function scheduleBuildingStyle() {
  if (app.buildingStyleTimer) return;
  app.buildingStyleTimer = setTimeout(() => {
    app.buildingStyleTimer = null;
    const entry = (app.entries || []).find((e) => e.kind === "buildings" && app.tilesets.has(e.id));
    app.buildingStyle = styleBuildings(entry && app.tilesets.get(entry.id), app.sensors, document.getElementById("metricLegend"));
    requestRender(app.viewer);
  }, 2000);
}

/** The alarm panel (operators: what is wrong now, since when; click to go there). */
function createAlarmPanel() {
  app.alarmPanel = new AlarmPanel(document.getElementById("alarmPanel"), {
    onPick: (alarm) => goToAlarm(alarm),
    canAcknowledge: (app.user && app.user.actions || []).includes("acknowledge"),
    nameOf: (a) => {
      const entity = app.sensors && app.sensors.entities.get(a.sensor_id);
      return entity ? featureName(entity.cimtwin.properties) : a.sensor_name || a.sensor_id;
    },
  });
}

/** The search box in the top bar: a picked hit flies there. */
function createSearch() {
  app.search = new SearchBox(document.getElementById("searchInput"), document.getElementById("searchResults"), (hit) => goToHit(hit));
}

/** Fly to a search hit: a model or BIM element to its model, a feature to its position
 * (showing its layer first). */
async function goToHit(hit) {
  app.lastSearchHit = hit;
  if (hit.tileset && app.tilesets.has(hit.tileset)) return zoomToTileset(hit.tileset);
  const layer = hit.layer && app.layers.get(hit.layer);
  if (layer && !layer.source.show) { await setLayerVisible(layer, true); renderLayerToggles(); }
  if (hit.position) flyToPoint(app.viewer, hit.position.lon, hit.position.lat, hit.position.height || 0);
  return null;
}

/** The view now: camera, visible tilesets and layers, the projects' date. */
function currentView() {
  const shown = (map, isShown) => [...map.entries()].filter(([, v]) => isShown(v)).map(([id]) => id);
  return {
    cam: cameraOf(app.viewer),
    tilesets: app.tilesets ? shown(app.tilesets, (ts) => ts.show) : undefined,
    layers: shown(app.layers, (layer) => layer.source.show),
    date: document.getElementById("asOfDate").value || undefined,
  };
}

/** Show a view (from the URL or a bookmark); parts it does not name stay as they are. */
async function applyView(view) {
  if (!view) return;
  if (view.cam) setCamera(app.viewer, view.cam);
  if (view.tilesets && app.tilesets) app.tilesets.forEach((ts, id) => setTilesetVisible(ts, view.tilesets.includes(id)));
  if (view.layers) await Promise.all([...app.layers.entries()].map(([id, layer]) => setLayerVisible(layer, view.layers.includes(id))));
  if (view.date !== undefined || view.cam) {
    document.getElementById("asOfDate").value = view.date || "";
    onAsOfDate(view.date || "");
  }
  if (app.entries) { renderTilesetToggles(); renderLayerToggles(); }
  requestRender(app.viewer);
  scheduleViewUrl();
}

/** Keep the address bar on the current view (a moment after each change). */
function scheduleViewUrl() {
  if (!window.cimtwin.ready) return; // the view of the link is applied first
  clearTimeout(app.viewUrlTimer);
  app.viewUrlTimer = setTimeout(() => writeViewToUrl(currentView()), 300);
}

/** Bookmarks of this browser, and the URL following the view. */
function createViewKeeping() {
  app.bookmarks = new BookmarkPanel(document.getElementById("bookmarks"), { currentView: () => viewToText(currentView()), onOpen: (text) => applyView(viewFromText(text)), t });
  app.viewer.camera.moveEnd.addEventListener(() => scheduleViewUrl());
  for (const type of ["change", "click"]) document.getElementById("layerPanel").addEventListener(type, () => scheduleViewUrl());
}

/** Fly to an alarm's source: its sensor (opened in the inspector), else its location. */
function goToAlarm(alarm) {
  if (app.sensors && app.sensors.entities.has(alarm.sensor_id)) return goToSensor(alarm.sensor_id);
  if (alarm.location) lookDownAt(app.viewer, alarm.location.lon, alarm.location.lat, (alarm.location.height || 0) + 600);
  return null;
}

/** Fly above a sensor and show it in the inspector. */
async function goToSensor(sensorId) {
  const entity = app.sensors.entities.get(sensorId);
  if (!entity) return;
  const where = Cesium.Cartographic.fromCartesian(entity.position.getValue(app.viewer.clock.currentTime));
  lookDownAt(app.viewer, Cesium.Math.toDegrees(where.longitude), Cesium.Math.toDegrees(where.latitude), 600);
  const description = { type: "sensor", collection: entity.cimtwin.collection, kind: "sensors", sensorId, properties: { ...entity.cimtwin.properties } };
  description.historyPoints = await inspectSensor(description);
}

/** Redraw the inspector when a new reading arrives for the sensor it shows. */
function refreshInspectedSensor(observation) {
  const current = app.inspector.current;
  if (current && current.type === "sensor" && current.sensorId === observation.sensor_id) {
    app.inspector.showSensor(current, app.sensors.latest.get(observation.sensor_id));
    app.sensorChart.push(observation); // charts.js: only the charted metric is drawn
  }
}

/** Show a sensor's values and the history chart (charts.js: metric and range pickers). */
async function inspectSensor(description) {
  const readings = app.sensors ? app.sensors.latest.get(description.sensorId) || {} : {};
  app.inspector.showSensor(description, readings);
  const declared = String(description.properties.metrics || "").split(",").filter(Boolean);
  const metrics = declared.length ? declared : Object.keys(readings);
  if (!metrics.length) { app.sensorChart.close(); return 0; }
  return app.sensorChart.open(description.sensorId, metrics);
}

/** Highlight a picked tileset feature (and restore the previous one). */
function highlight(picked) {
  if (app.highlighted) {
    const { feature, color } = app.highlighted;
    try {
      feature.color = color;
      if (feature.tileset.style) feature.tileset.makeStyleDirty(); // re-apply X-ray colours
    } catch (e) { /* its tile was unloaded meanwhile */ }
    app.highlighted = null;
  }
  if (picked instanceof Cesium.Cesium3DTileFeature) {
    app.highlighted = { feature: picked, color: Cesium.Color.clone(picked.color) };
    picked.color = Cesium.Color.YELLOW;
  }
  requestRender(app.viewer);
}

/** Pick at window x/y, show what is there in the inspector; resolves to its description. */
async function select(x, y) {
  const { picked, description } = pickScene(app.viewer, x, y);
  const members = clusterMembers(picked); // a cluster's badge: zoom in to its points
  if (members) return app.viewer.flyTo(members, { duration: 1.0 }).then(() => null);
  return showPicked(picked, description);
}

/** Highlight what was picked and show it in the inspector (or close it for nothing). */
async function showPicked(picked, description) {
  highlight(picked);
  raiseEntity(app.raised, picked && picked.id instanceof Cesium.Entity ? picked.id : null); // only the picked pin shows through buildings
  if (!description) { app.inspector.hide(); showProjectCard(null); focusBimElement(null); return null; }
  if (description.type !== "sensor") app.sensorChart.close();
  if (description.type === "sensor") {
    focusBimElement(null);
    description.historyPoints = await inspectSensor(description);
    return description;
  }
  const full = await enrichBimDescription(description);
  app.inspector.showFeature(full);
  showProjectCard(full); // projects.js: the card of a picked project (hidden otherwise)
  focusBimElement(full);
  return full;
}

/** With X-ray on, the picked BIM element stays solid and the rest turns translucent;
 * picking anything else clears that focus. */
function focusBimElement(description) {
  for (const [id, model] of app.bim) {
    const mine = description && description.kind === "bim" && description.tilesetId === id;
    const focus = mine ? description.properties[GLOBAL_ID_PROPERTY] ?? null : null;
    if (model.state.focusGlobalId === focus) continue;
    model.state.focusGlobalId = focus;
    if (model.state.xray) applyBimState(model.tileset, model.state);
  }
  requestRender(app.viewer);
}

/** The BIM model the panel works on. */
function currentBimModel() {
  return app.bim.get(app.bimPanel.model.value) || [...app.bim.values()][0];
}

/** Fetch the server's storey/class lists of each BIM model (when the BIM API exists). */
async function loadBimIndexes() {
  for (const [id, model] of app.bim) {
    const [storeys, classes, tree] = await Promise.all([fetchBimStoreys(id), fetchBimClasses(id), fetchBimTree(id)]);
    model.server = { storeys: namesFrom(storeys, "storeys"), classes: namesFrom(classes, "classes"), tree: tree && tree.storeys };
  }
  listBimModels();
}

/** Offer the BIM models (names in the current language) in the BIM panel. */
function listBimModels() {
  app.bimPanel.setModels(app.entries.filter((e) => app.bim.has(e.id)).map((e) => ({ id: e.id, name: pickLanguage(e.name) })));
  refreshBimPanel();
}

/** Redraw the BIM tools for the current model (server lists, else collected from tiles). */
function refreshBimPanel() {
  const model = app.bimPanel && currentBimModel();
  if (!model) return;
  const storeys = model.server && model.server.storeys.length ? model.server.storeys : [...model.index.storeys].sort();
  const classes = model.server && model.server.classes.length ? model.server.classes : [...model.index.classes].sort();
  app.bimPanel.setIndex(storeys, classes, model.state);
  app.bimTree.show(model.server && model.server.tree, model.state); // bimtree.js
}

/** Create the BIM panel; each control updates the model's state and restyles it. */
function createBimPanel() {
  const update = (change) => {
    const m = currentBimModel();
    if (!m) return;
    change(m.state);
    applyBimState(m.tileset, m.state);
    app.bimTree.show(m.server && m.server.tree, m.state);
  };
  app.bimPanel = new BimPanel(document.getElementById("bimPanel"), {
    onModel: () => refreshBimPanel(),
    onStorey: (storey) => update((s) => (s.storey = storey)),
    onXray: (xray) => update((s) => (s.xray = xray)),
    onClass: (name, visible) => update((s) => (visible ? s.hiddenClasses.delete(name) : s.hiddenClasses.add(name))),
  });
  // bimtree.js: the element tree acts like the panel's controls, then both redraw.
  app.bimTree = new ElementTree(document.getElementById("bimTree"), {
    onZoom: () => { const id = app.bimPanel.model.value || [...app.bim.keys()][0]; if (id) zoomToTileset(id); },
    onStorey: (storey) => { update((s) => (s.storey = storey)); refreshBimPanel(); },
    onClass: (name, visible) => { update((s) => (visible ? s.hiddenClasses.delete(name) : s.hiddenClasses.add(name))); refreshBimPanel(); },
  });
}

/** Buttons, clicks and the language switch. */
function wireUi() {
  document.getElementById("homeButton").addEventListener("click", () => flyHome(app.viewer, app.home));
  document.getElementById("langButton").addEventListener("click", () => setLanguage(getLanguage() === "zh" ? "en" : "zh"));
  const asOf = document.getElementById("asOfDate");
  asOf.addEventListener("change", () => onAsOfDate(asOf.value));
  onLanguageChange(() => {
    app.layers.forEach((layer) => relabelLayer(layer.source));
    if (!app.entries) return; // still starting: the lists are drawn in the new language
    renderTilesetToggles();
    renderLayerToggles();
    renderStageFilter(document.getElementById("stageFilter"));
    listBimModels();
    renderClipPanel();
    if (app.alarmPanel) app.alarmPanel.render();
    if (app.navigation) app.navigation.render();
    if (app.sensorChart.state) { app.sensorChart.renderControls(); app.sensorChart.draw(); }
    if (app.timeline) app.timeline.render();
  });
  const handler = new Cesium.ScreenSpaceEventHandler(app.viewer.scene.canvas);
  // While an analysis tool is active, it takes the clicks (tools/toolbar.js).
  handler.setInputAction((event) => (app.tools && app.tools.handleClick(event.position) ? null : select(event.position.x, event.position.y)), Cesium.ScreenSpaceEventType.LEFT_CLICK);
}

/** Resolve once the globe and every visible tileset have the tiles this view needs and
 * every layer's entities are drawn (ground primitives are built asynchronously), 3 frames running. */
function waitForTiles() {
  return new Promise((resolve) => {
    let calm = 0;
    const remove = app.viewer.scene.postRender.addEventListener(() => {
      const copies = app.compare ? [...app.compare.copies.values()] : []; // compare.js: the right side
      const tilesDone = [...app.tilesets.values(), ...copies].every((ts) => !ts.show || ts.tilesLoaded);
      const settled = tilesDone && app.viewer.scene.globe.tilesLoaded && app.viewer.dataSourceDisplay.ready;
      calm = settled ? calm + 1 : 0;
      if (calm >= 3) { remove(); resolve(true); } else app.viewer.scene.requestRender(); // render on demand: ask for the frames we count
    });
    app.viewer.scene.requestRender();
  });
}

/** The hook the browser tests use. */
function exposeTestHook() {
  window.cimtwin = {
    app, Cesium, ready: false, errors: app.errors,
    get viewer() { return app.viewer; },
    get tilesets() { return app.tilesets; },
    get stats() { return app.stats; },
    get lastMetric() { return app.sensors ? app.sensors.lastObservation : null; },
    get metricsReceived() { return app.sensors ? app.sensors.received : 0; },
    get metricsConnected() { return app.metricsOk; },
    get buildingStyle() { return app.buildingStyle || null; },
    sensorColour: (id) => (app.sensors ? app.sensors.colourOf(id) : null),
    get tools() { return app.tools; },
    labelOverlaps: () => countLabelOverlaps(app.viewer), // declutter.js: {labels, overlapping} drawn now
    get navigation() { return app.navigation; },
    setLayerOpacity: (id, opacity) => onLayerOpacity(id, opacity),
    get declutterSettled() { return app.declutter ? app.declutter.settled : false; },
    get chart() { return app.sensorChart.state; }, // charts.js: what the history chart draws
    get timeline() { return app.timeline; },
    get compare() { return app.compare; },
    dictionaries, // the page's own string tables (tools merge theirs in at start)
    allTilesLoaded: () => allTilesetsLoaded(app.tilesets, app.stats),
    waitForTiles,
    pickAt: (x, y) => select(x, y),
    zoomToTileset: (id) => zoomToTileset(id),
    viewText: () => viewToText(currentView()),
    openView: (text) => applyView(viewFromText(text)),
    inspectFeature: (feature) => showPicked(feature, describePicked(feature)), // as a click on it
    windowPositionOf: (lon, lat, h) => windowPositionOf(app.viewer, lon, lat, h),
    lookDownAt: (lon, lat, h) => lookDownAt(app.viewer, lon, lat, h),
    flyHome: (duration = 0) => flyHome(app.viewer, app.home, duration),
    bimState: (id) => app.bim.get(id)?.state,
    applyBim: (id) => { const m = app.bim.get(id); applyBimState(m.tileset, m.state); requestRender(app.viewer); },
    setLanguage,
    clipProject: (id, on) => {
      const project = app.clipProjects.find((p) => p.id === String(id));
      app.clipping.setClipped(project.id, on ? project.rings : null);
      renderClipPanel();
      requestRender(app.viewer);
    },
    refreshProjects, // projects.js: ask now for other users' project edits
    setProjectPolling,
  };
}

/** Start everything: config, viewer, models, layers, metrics, UI. */
async function main() {
  exposeTestHook();
  adoptTokenFromUrl();
  const linkedView = viewFromText(window.location.hash); // view.js: a shared link's view
  app.user = await initLogin();  // sign-in button and dialog (login.js)
  const config = await fetchConfig();
  setLanguage(config.language === "en" ? "en" : "zh");
  app.viewer = createViewer("cesiumContainer", config);
  app.home = homeOf(config);
  app.stats = createStats();
  app.inspector = new Inspector(document.getElementById("inspector"));
  app.inspector.onClose = () => { highlight(null); focusBimElement(null); raiseEntity(app.raised, null); app.sensorChart.close(); }; // nothing stays picked
  app.raised = {};
  app.declutter = new LabelDeclutter(app.viewer, (e) => Boolean(app.sensors && e.cimtwin && e.cimtwin.sensorId && app.sensors.levelOf(e.cimtwin.sensorId) === "alarm"));
  app.sensorChart = new SensorChart(document.getElementById("chartControls"), document.getElementById("historyChart"), { unitOf: (id, m) => (app.sensors ? app.sensors.unitOf(id, m) : "") });
  if (linkedView && linkedView.cam) setCamera(app.viewer, linkedView.cam);
  else flyHome(app.viewer, app.home, 0);
  createBimPanel();
  createSearch();
  wireUi();
  app.navigation = new NavigationWidgets(app.viewer, config.gauss_kruger); // compass, zoom, scale, coordinates
  app.tools = mountTools(app, config);
  await loadModels();
  createAlarmPanel();
  await Promise.all([loadGisLayers(), loadBimIndexes(), app.alarmPanel.load()]);
  setupClipping();
  await applyView(linkedView);
  app.readyStatus = [app.tilesets.size ? "status.ready" : "status.noTilesets", { tilesets: app.tilesets.size, layers: app.layers.size }];
  setStatus(...app.readyStatus);
  translatePage(document);
  window.cimtwin.ready = true;
  createViewKeeping();
}

main().catch((error) => {
  app.errors.push(String(error && error.stack ? error.stack : error));
  console.error("cimtwin: viewer start failed", error);
});
