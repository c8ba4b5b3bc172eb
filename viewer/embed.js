// embed.js: the district view for another team's page (a CIM+ app), as one ES module.
//
//   const { createDistrictView } = await import("https://cim.example/viewer/embed.js");
//   const view = await createDistrictView(element, { server, token, layers, camera, date });
//   view.flyTo(117.13, 36.657, 600); view.on("pick", (hit) => ...);
//
// Self-contained: it needs nothing of viewer/js/*. CesiumJS comes from the same cimtwin
// server (`${server}/cesium/`, offline: no CDN, no Cesium ion). A page on another origin
// works when a data-admin registered that origin for its app (cimtwin apps add --origin);
// every request carries the app's bearer token (docs/api.md, "Embedding").

const EMBED_URL = import.meta.url;
const STAGE_COLOURS = { planned: "#4e9cff", approved: "#f2c94c", under_construction: "#ff7a2f", completed: "#3fbf6f" };
const STAGE_DATES = [["planned", "planned_date"], ["approved", "approved_date"], ["under_construction", "start_date"], ["completed", "completion_date"]];
const KIND_COLOURS = { facilities: "#3498db", sensors: "#1abc9c", buildings: "#00bcd4" };
let cesiumLoading = null;

/** The cimtwin server this module was loaded from (its base URL, no trailing slash). */
function defaultServer() {
  return new URL("../", EMBED_URL).href.replace(/\/$/, "");
}

/** Load CesiumJS once from the server (a script tag, so window.Cesium is its global build). */
function loadCesium(server) {
  if (window.Cesium) return Promise.resolve(window.Cesium);
  if (cesiumLoading) return cesiumLoading;
  window.CESIUM_BASE_URL = `${server}/cesium/`;
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = `${server}/cesium/Widgets/widgets.css`;
  document.head.append(css);
  cesiumLoading = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `${server}/cesium/Cesium.js`;
    script.crossOrigin = "anonymous"; // CORS: errors inside Cesium stay readable
    script.onload = () => resolve(window.Cesium);
    script.onerror = () => {
      cesiumLoading = null;
      reject(new Error(`cimtwin embed: ${server}/cesium/Cesium.js did not load; is this page's origin registered (cimtwin apps add --origin ${location.origin})?`));
    };
    document.head.append(script);
  });
  return cesiumLoading;
}

/** Bearer token source: a fixed string, or a function (called again after a 401). */
function tokenSource(token) {
  let current = typeof token === "function" ? null : token || null;
  return {
    async get() {
      if (current === null && typeof token === "function") current = await token();
      return current;
    },
    async renew() {
      if (typeof token !== "function") return null;
      current = await token({ renew: true });
      return current;
    },
    renewable: typeof token === "function",
  };
}

/** Fetch JSON from the server with the bearer token; one renewal and retry after a 401. */
async function fetchJson(server, tokens, path) {
  const call = async (value) => fetch(`${server}${path}`, { headers: { Accept: "application/json", ...(value ? { Authorization: `Bearer ${value}` } : {}) } });
  let response = await call(await tokens.get());
  if (response.status === 401 && tokens.renewable) response = await call(await tokens.renew());
  if (!response.ok) throw new Error(`cimtwin embed: ${path} answered ${response.status}`);
  return response.json();
}

/** A Cesium Resource on the server with the token; tiles derived from it inherit both. */
async function resourceOf(Cesium, server, tokens, path) {
  const value = await tokens.get();
  return new Cesium.Resource({
    url: `${server}${path}`,
    headers: value ? { Authorization: `Bearer ${value}` } : {},
    retryAttempts: tokens.renewable ? 1 : 0,
    // An expired app token (401): get a new one and try the request once more.
    retryCallback: async (resource, error) => {
      if (!error || error.statusCode !== 401 || !tokens.renewable) return false;
      resource.headers.Authorization = `Bearer ${await tokens.renew()}`;
      return true;
    },
  });
}

/** A Cesium viewer with every online service off and Cesium's bundled offline imagery. */
function createViewer(Cesium, element, config) {
  Cesium.Ion.defaultAccessToken = "";
  const baseLayer = config.imagery === "url" && config.imagery_url
    ? new Cesium.ImageryLayer(new Cesium.UrlTemplateImageryProvider({ url: config.imagery_url, maximumLevel: 19 }))
    : Cesium.ImageryLayer.fromProviderAsync(Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII")));
  const viewer = new Cesium.Viewer(element, {
    baseLayer, baseLayerPicker: false, geocoder: false, homeButton: false, sceneModePicker: false,
    navigationHelpButton: false, animation: false, timeline: false, fullscreenButton: false,
    infoBox: false, selectionIndicator: false, shadows: false,
  });
  viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString("#1b2a3a");
  return viewer;
}

/** A project's lifecycle stage on an ISO date (its last milestone by then), or null. */
function stageAt(props, isoDate) {
  if (!isoDate) return props.stage ?? null;
  let stage = null;
  for (const [name, key] of STAGE_DATES) {
    const when = String(props[key] ?? "").slice(0, 10);
    if (when && when <= isoDate) stage = name;
  }
  return stage;
}

/** Colour and show a project polygon for its stage on `isoDate` (null: as recorded). */
function styleProject(Cesium, entity, isoDate) {
  const stage = stageAt(entity.cimtwin.properties, isoDate);
  entity.show = stage !== null;
  const colour = Cesium.Color.fromCssColorString(STAGE_COLOURS[stage] || "#aaaaaa").withAlpha(0.55);
  entity.polygon.material = new Cesium.ColorMaterialProperty(colour);
}

/** One GeoJSON feature as entities: points with a name label, polygons draped on the scene. */
function addFeature(Cesium, source, feature, collection) {
  const props = feature.properties || {};
  const geometry = feature.geometry || {};
  const colour = Cesium.Color.fromCssColorString(KIND_COLOURS[collection.kind] || "#e67e22");
  const tag = { layer: collection.id, kind: collection.kind, id: feature.id ?? props.id ?? null, properties: props };
  const points = geometry.type === "Point" ? [geometry.coordinates] : geometry.type === "MultiPoint" ? geometry.coordinates : [];
  for (const [lon, lat] of points) {
    const entity = source.entities.add({
      position: Cesium.Cartesian3.fromDegrees(lon, lat),
      point: { pixelSize: 10, color: colour, outlineColor: Cesium.Color.WHITE, outlineWidth: 2, heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, disableDepthTestDistance: Number.POSITIVE_INFINITY },
      label: { text: String(props.name || ""), font: "13px sans-serif", fillColor: Cesium.Color.WHITE, outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE, pixelOffset: new Cesium.Cartesian2(0, -16), heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, disableDepthTestDistance: Number.POSITIVE_INFINITY, distanceDisplayCondition: new Cesium.DistanceDisplayCondition(0, 1500) },
    });
    entity.cimtwin = tag;
  }
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const rings of polygons) {
    const ring = (r) => Cesium.Cartesian3.fromDegreesArray(r.flatMap((c) => [c[0], c[1]]));
    const hierarchy = new Cesium.PolygonHierarchy(ring(rings[0]), rings.slice(1).map((r) => new Cesium.PolygonHierarchy(ring(r))));
    const entity = source.entities.add({ polygon: { hierarchy, material: colour.withAlpha(0.35), classificationType: Cesium.ClassificationType.BOTH } });
    entity.cimtwin = tag;
    if (collection.kind === "projects") styleProject(Cesium, entity, null);
  }
}

/** Where a click landed: the picked feature (tile feature or GIS entity) and its lon/lat. */
function describePick(Cesium, viewer, position) {
  const scene = viewer.scene;
  const picked = scene.pick(position);
  const world = (picked && scene.pickPositionSupported ? scene.pickPosition(position) : undefined) || viewer.camera.pickEllipsoid(position, scene.globe.ellipsoid);
  const where = world ? Cesium.Cartographic.fromCartesian(world) : null;
  const hit = { layer: null, kind: null, id: null, properties: {}, lon: null, lat: null, height: null };
  if (where) Object.assign(hit, { lon: Cesium.Math.toDegrees(where.longitude), lat: Cesium.Math.toDegrees(where.latitude), height: where.height });
  if (picked instanceof Cesium.Cesium3DTileFeature) {
    for (const name of picked.getPropertyIds()) hit.properties[name] = picked.getProperty(name);
    const entry = picked.tileset && picked.tileset.cimtwinEntry;
    Object.assign(hit, { layer: entry ? entry.id : null, kind: entry ? entry.kind : "tileset", id: hit.properties.id ?? hit.properties.GlobalId ?? null });
  } else if (picked && picked.id && picked.id.cimtwin) {
    Object.assign(hit, picked.id.cimtwin, { properties: { ...picked.id.cimtwin.properties } });
  }
  return hit;
}

/** The district view: tilesets and GIS layers of a cimtwin server in `element`.
 * Resolves to {flyTo, showLayer, hideLayer, on, setDate, layers, camera, viewer, destroy};
 * a layer is named by its ref ("tiles:<id>", "ogc:<id>") or its plain id. */
export async function createDistrictView(element, options = {}) {
  const server = String(options.server || defaultServer()).replace(/\/$/, "");
  const tokens = tokenSource(options.token);
  const Cesium = await loadCesium(server);
  const [config, tilesets, ogc] = await Promise.all([
    fetchJson(server, tokens, "/api/v1/config"),
    fetchJson(server, tokens, "/api/v1/tilesets"),
    fetchJson(server, tokens, "/ogc/collections?f=json"),
  ]);
  const viewer = createViewer(Cesium, element, config);
  const listeners = { pick: new Set(), error: new Set() };
  const emit = (name, value) => listeners[name].forEach((cb) => cb(value));
  // Layers by ref: "tiles:<tileset id>" and "ogc:<collection id>" (a tileset and a
  // collection may share an id, e.g. white models and their footprints).
  const layers = new Map(); // ref -> {ref, id, type, kind, title, shown, object, loading}
  let date = options.date || null;
  for (const entry of tilesets) layers.set(`tiles:${entry.id}`, { ref: `tiles:${entry.id}`, id: entry.id, type: "tileset", kind: entry.kind, title: entry.name, entry, shown: false, object: null, loading: null });
  for (const c of ogc.collections || []) layers.set(`ogc:${c.id}`, { ref: `ogc:${c.id}`, id: c.id, type: "collection", kind: c.kind, title: c.title, collection: c, shown: false, object: null, loading: null });
  /** The layer a ref or plain id names (a plain id: the tileset first, then the collection). */
  const layerOf = (name) => layers.get(name) || layers.get(`tiles:${name}`) || layers.get(`ogc:${name}`);

  /** Load a layer's Cesium object the first time it is shown. */
  async function load(layer) {
    if (layer.type === "tileset") {
      const tileset = await Cesium.Cesium3DTileset.fromUrl(await resourceOf(Cesium, server, tokens, layer.entry.url || `/tiles/${encodeURIComponent(layer.id)}/tileset.json`), { maximumScreenSpaceError: 16 });
      tileset.cimtwinEntry = layer.entry;
      tileset.tileFailed.addEventListener((error) => emit("error", { layer: layer.id, message: String(error.message), url: String(error.url) }));
      return viewer.scene.primitives.add(tileset);
    }
    const body = await fetchJson(server, tokens, `/ogc/collections/${encodeURIComponent(layer.id)}/items?limit=10000&f=json`);
    const source = new Cesium.CustomDataSource(layer.id);
    (body.features || []).forEach((feature) => addFeature(Cesium, source, feature, layer.collection));
    await viewer.dataSources.add(source);
    if (layer.kind === "projects" && date) applyDate(layer);
    return source;
  }

  /** Show (loading when needed) or hide one layer by id; resolves when done. */
  async function setShown(id, shown) {
    const layer = layerOf(id);
    if (!layer) throw new Error(`cimtwin embed: no layer ${id}; known: ${[...layers.keys()].join(", ")}`);
    layer.shown = shown;
    if (shown && !layer.object) {
      layer.loading = layer.loading || load(layer).catch((error) => { layer.loading = null; emit("error", { layer: id, message: String(error) }); throw error; });
      layer.object = await layer.loading;
    }
    if (layer.object) layer.object.show = layer.shown;
  }

  /** Colour a project layer by each project's stage on the current date. */
  function applyDate(layer) {
    layer.object.entities.values.forEach((entity) => entity.polygon && styleProject(Cesium, entity, date));
  }

  const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
  handler.setInputAction((click) => emit("pick", describePick(Cesium, viewer, click.position)), Cesium.ScreenSpaceEventType.LEFT_CLICK);

  const view = {
    viewer,
    /** Fly to look at lon/lat (on the models there, when drawn) from the south, 45 degrees
     * down, from `height` metres above it; resolves when the flight ends. */
    flyTo(lon, lat, height = 600, { duration = 1.5 } = {}) {
      const scene = viewer.scene;
      const ground = scene.sampleHeightSupported ? scene.sampleHeight(Cesium.Cartographic.fromDegrees(lon, lat)) : undefined;
      const target = new Cesium.BoundingSphere(Cesium.Cartesian3.fromDegrees(lon, lat, ground ?? 0), 1);
      const offset = new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-45), height * Math.SQRT2);
      return new Promise((resolve) => viewer.camera.flyToBoundingSphere(target, { offset, duration, complete: resolve, cancel: resolve }));
    },
    showLayer: (id) => setShown(id, true),
    hideLayer: (id) => setShown(id, false),
    /** Subscribe to "pick" ({layer, kind, id, properties, lon, lat, height}) or "error"; returns an unsubscribe. */
    on(name, callback) {
      if (!listeners[name]) throw new Error(`cimtwin embed: no event ${name}; use ${Object.keys(listeners).join(" or ")}`);
      listeners[name].add(callback);
      return () => listeners[name].delete(callback);
    },
    /** Show the district as on an ISO date (YYYY-MM-DD; null: as recorded): projects by stage. */
    setDate(iso) {
      date = iso ? String(iso).slice(0, 10) : null;
      layers.forEach((layer) => layer.kind === "projects" && layer.object && applyDate(layer));
    },
    /** The layers the token may see: [{ref, id, type: "tileset"|"collection", kind, title, shown}]. */
    layers: () => [...layers.values()].map(({ ref, id, type, kind, title, shown }) => ({ ref, id, type, kind, title, shown })),
    /** The camera: lon, lat, height (m), heading and pitch (degrees), and the lon/lat of
     * what is drawn at the view's centre (or of the ellipsoid there; null: the sky). */
    camera() {
      const c = viewer.camera.positionCartographic;
      const centre = new Cesium.Cartesian2(viewer.canvas.clientWidth / 2, viewer.canvas.clientHeight / 2);
      const scene = viewer.scene;
      const hit = (scene.pickPositionSupported && scene.pickPosition(centre)) || viewer.camera.pickEllipsoid(centre, scene.globe.ellipsoid);
      const at = hit ? Cesium.Cartographic.fromCartesian(hit) : null;
      const deg = Cesium.Math.toDegrees;
      return { lon: deg(c.longitude), lat: deg(c.latitude), height: c.height, heading: deg(viewer.camera.heading), pitch: deg(viewer.camera.pitch), centre: at ? { lon: deg(at.longitude), lat: deg(at.latitude) } : null };
    },
    destroy() {
      handler.destroy();
      viewer.destroy();
    },
  };

  const home = options.camera || { lon: config.home?.[0] ?? 117.1285, lat: config.home?.[1] ?? 36.658, height: config.home?.[2] ?? 2500 };
  viewer.camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(Number(home.lon), Number(home.lat) - (home.pitch === undefined ? Number(home.height) / 111320 : 0), Number(home.height)),
    orientation: { heading: Cesium.Math.toRadians(home.heading ?? 0), pitch: Cesium.Math.toRadians(home.pitch ?? -45), roll: 0 },
  });
  // By default every tileset and every collection but footprints (they would drape the models).
  const wanted = options.layers || [...layers.values()].filter((l) => l.kind !== "buildings" || l.type === "tileset").map((l) => l.ref);
  // A layer that fails to load is only warned about: the view still comes up without it.
  await Promise.all(wanted.map((id) => setShown(id, true).catch((error) => console.warn(String(error.message || error)))));
  return view;
}
