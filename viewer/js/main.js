// main.js: boots the viewer and wires the modules together. Cesium logic lives in
// scene/tilesets/layers/metrics/bim/picking; DOM in panel/inspector; URLs in api.
// window.cimtwin is a small hook the browser tests (tests/browser) drive.

import { adoptTokenFromUrl, fetchConfig, fetchTilesets, fetchCollections, fetchItems, fetchMetricHistory, fetchBimStoreys, fetchBimClasses } from "./api.js";
import { setLanguage, getLanguage, onLanguageChange, t, translatePage, pickLanguage, dictionaries } from "./i18n.js";
import { createViewer, homeOf, flyHome, flyToPoint, lookDownAt, windowPositionOf, requestRender } from "./scene.js";
import { SearchBox } from "./search.js";
import { cameraOf, setCamera, viewToText, viewFromText, writeViewToUrl, BookmarkPanel } from "./view.js";
import { createStats, loadTilesets, setTilesetVisible, allTilesetsLoaded } from "./tilesets.js";
import { loadLayer, setLayerVisible, relabelLayer, showProjectsAsOf, featureName, STAGE_COLOURS } from "./layers.js";
import { SensorLayer, historyFrom, styleBuildings } from "./metrics.js";
import { createBimState, applyBimState, collectBimIndex, namesFrom, GLOBAL_ID_PROPERTY } from "./bim.js";
import { pickAt as pickScene, enrichBimDescription, describePicked } from "./picking.js";
import { Inspector } from "./inspector.js";
import { renderToggles, renderLegend, BimPanel } from "./panel.js";
import { AlarmPanel } from "./alarms.js";
import { ProjectClipping, projectsOf, renderClipToggles } from "./clipping.js";
import { initProjects, renderStageFilter, setProjectsAsOf, showProjectCard, refreshProjects, setProjectPolling } from "./projects.js";
import { initLogin } from "./login.js";
import { mountTools } from "./tools/toolbar.js";

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
  const hasProjects = [...app.layers.values()].some((l) => l.kind === "projects");
  if (hasProjects) renderLegend(document.getElementById("legend"), STAGE_COLOURS);
  document.getElementById("asOf").hidden = !hasProjects;
}

/** Recolour every project layer for the date the planner picked (empty: as recorded). */
function onAsOfDate(isoDate) {
  app.layers.forEach((layer) => layer.kind === "projects" && showProjectsAsOf(layer.source, isoDate));
  setProjectsAsOf(isoDate); // projects.js: the stage filter applies on every date
  requestRender(app.viewer);
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
  }
  renderLayerToggles();
  initProjects({ viewer: app.viewer, layers: app.layers, tilesets: app.tilesets, entries: app.entries });
  renderStageFilter(document.getElementById("stageFilter"));
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
    const chart = app.chart;
    if (chart && chart.sensorId === observation.sensor_id && chart.metric === observation.metric) {
      chart.history.push(observation);
      app.inspector.showHistory(chart.history, chart.metric);
    }
  }
}

/** Show a sensor's values and the history chart of its first metric. */
async function inspectSensor(description) {
  const readings = app.sensors ? app.sensors.latest.get(description.sensorId) || {} : {};
  app.inspector.showSensor(description, readings);
  const declared = String(description.properties.metrics || "").split(",").filter(Boolean);
  const metrics = declared.length ? declared : Object.keys(readings);
  if (!metrics.length) return 0;
  const body = await fetchMetricHistory(description.sensorId, metrics[0]);
  const history = historyFrom(body, description.sensorId, metrics[0]);
  app.chart = { sensorId: description.sensorId, metric: metrics[0], history };
  return app.inspector.showHistory(history, metrics[0]);
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
  return showPicked(picked, description);
}

/** Highlight what was picked and show it in the inspector (or close it for nothing). */
async function showPicked(picked, description) {
  highlight(picked);
  if (!description) { app.inspector.hide(); showProjectCard(null); focusBimElement(null); return null; }
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
    const [storeys, classes] = await Promise.all([fetchBimStoreys(id), fetchBimClasses(id)]);
    model.server = { storeys: namesFrom(storeys, "storeys"), classes: namesFrom(classes, "classes") };
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
}

/** Create the BIM panel; each control updates the model's state and restyles it. */
function createBimPanel() {
  const update = (change) => { const m = currentBimModel(); if (m) { change(m.state); applyBimState(m.tileset, m.state); } };
  app.bimPanel = new BimPanel(document.getElementById("bimPanel"), {
    onModel: () => refreshBimPanel(),
    onStorey: (storey) => update((s) => (s.storey = storey)),
    onXray: (xray) => update((s) => (s.xray = xray)),
    onClass: (name, visible) => update((s) => (visible ? s.hiddenClasses.delete(name) : s.hiddenClasses.add(name))),
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
      const tilesDone = [...app.tilesets.values()].every((ts) => !ts.show || ts.tilesLoaded);
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
  app.inspector.onClose = () => { highlight(null); focusBimElement(null); }; // nothing stays picked
  if (linkedView && linkedView.cam) setCamera(app.viewer, linkedView.cam);
  else flyHome(app.viewer, app.home, 0);
  createBimPanel();
  createSearch();
  wireUi();
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
