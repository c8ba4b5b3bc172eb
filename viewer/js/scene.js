// scene.js: the Cesium viewer itself, offline: no Cesium ion, no geocoder, no online
// imagery or terrain. Imagery is Cesium's bundled NaturalEarthII or an intranet XYZ URL.

const Cesium = window.Cesium;

/** The base imagery layer the config asks for ("offline" or an XYZ "url" template). */
function baseImageryLayer(config) {
  if (config.imagery === "url" && config.imagery_url) {
    const provider = new Cesium.UrlTemplateImageryProvider({ url: config.imagery_url, maximumLevel: 19 });
    return new Cesium.ImageryLayer(provider);
  }
  const url = Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII");
  return Cesium.ImageryLayer.fromProviderAsync(Cesium.TileMapServiceImageryProvider.fromUrl(url));
}

/** Create the viewer in `containerId` with every online service switched off. */
export function createViewer(containerId, config) {
  // Never talk to Cesium ion: no token, and nothing below uses an ion asset.
  Cesium.Ion.defaultAccessToken = "";
  const viewer = new Cesium.Viewer(containerId, {
    baseLayer: baseImageryLayer(config),
    baseLayerPicker: false,
    geocoder: false,
    homeButton: false,
    sceneModePicker: false,
    navigationHelpButton: false,
    animation: false,
    timeline: false,
    fullscreenButton: false,
    infoBox: false,
    selectionIndicator: true,
    shadows: false,
    // A city view never looks at the stars: no sky box (six textures, ~870 KB).
    skyBox: false,
    // Render on demand: no frames while nothing changes (camera, tiles, entities or a
    // module's requestRender). The clock does not animate anything here.
    requestRenderMode: true,
    maximumRenderTimeChange: Infinity,
  });
  viewer.scene.globe.depthTestAgainstTerrain = false;
  viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString("#1b2a3a");
  viewer.scene.skyAtmosphere.show = true;
  if (viewer.scene.moon) viewer.scene.moon.show = false; // nor the moon (its texture)
  renderEntityChanges(viewer);
  return viewer;
}

/** Ask for a frame (render on demand): call after changing anything the scene shows. */
export function requestRender(viewer) {
  if (viewer && !viewer.isDestroyed()) viewer.scene.requestRender();
}

/** Entities change outside Cesium's own render requests: ask for a frame when one of
 * ours changes, and while entity geometry is still being built (the display not ready). */
function renderEntityChanges(viewer) {
  const ask = () => viewer.scene.requestRender();
  const watchSource = (source) => {
    source.entities.collectionChanged.addEventListener((collection, added) => {
      added.forEach((entity) => entity.definitionChanged.addEventListener(ask));
      ask();
    });
    source.entities.values.forEach((entity) => entity.definitionChanged.addEventListener(ask));
    if (source.changedEvent) source.changedEvent.addEventListener(ask);
  };
  viewer.dataSources.dataSourceAdded.addEventListener((collection, source) => { watchSource(source); ask(); });
  viewer.dataSources.dataSourceRemoved.addEventListener(ask);
  watchSource({ entities: viewer.entities });
  // Clock ticks run every animation frame even without a render: keep frames coming while
  // the data source display still has entity primitives to build.
  viewer.clock.onTick.addEventListener(() => viewer.clockViewModel.canAnimate || ask());
  // Panel input (toggles, selects, buttons) changes the scene: one frame after each.
  for (const type of ["change", "click", "input"]) document.addEventListener(type, ask, true);
}

/** Home camera position: [lon, lat, height] from the config, or Lixia CBD. */
export function homeOf(config) {
  const home = Array.isArray(config.home) && config.home.length >= 2 ? config.home : [117.1285, 36.658, 2500];
  return { lon: Number(home[0]), lat: Number(home[1]), height: Number(home[2] ?? 2500) };
}

/** Fly (or jump, with duration 0) to the district's home view, looking north and down. */
export function flyHome(viewer, home, duration = 1.5) {
  // Step back south so the district sits in front of a camera pitched 45 degrees down.
  const back = home.height / 111320;
  viewer.camera.flyTo({
    destination: Cesium.Cartesian3.fromDegrees(home.lon, home.lat - back, home.height),
    orientation: { heading: 0, pitch: Cesium.Math.toRadians(-45), roll: 0 },
    duration,
  });
}

/** Fly so that lon/lat/height is at the centre of the view, seen from `range` metres
 * at 45 degrees down, looking north. */
export function flyToPoint(viewer, lon, lat, height = 0, range = 800, duration = 1.5) {
  const sphere = new Cesium.BoundingSphere(Cesium.Cartesian3.fromDegrees(lon, lat, height), 1);
  viewer.camera.flyToBoundingSphere(sphere, { offset: new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-45), range), duration });
}

/** Look straight down at lon/lat from `height` metres (used to pick what is below). */
export function lookDownAt(viewer, lon, lat, height) {
  viewer.camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(lon, lat, height),
    orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 },
  });
}

/** Window (CSS pixel) position of a lon/lat/height point, or null when off screen. */
export function windowPositionOf(viewer, lon, lat, height = 0) {
  const world = Cesium.Cartesian3.fromDegrees(lon, lat, height);
  const position = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, world);
  return position ? { x: position.x, y: position.y } : null;
}
