// tools/scenepick.js: what the tools share about the scene: a picked surface point that
// snaps to 3D Tiles / BIM surfaces (depth picking), local east-north-up frames, and the
// points, lines and labels a tool draws in its own data source.

const Cesium = window.Cesium;

/** The surface point under a window position: 3D Tiles, BIM or the globe; or null. */
export function surfacePoint(viewer, position) {
  const scene = viewer.scene;
  const windowPosition = new Cesium.Cartesian2(position.x, position.y);
  if (scene.pickPositionSupported) {
    const picked = scene.pickPosition(windowPosition);
    if (Cesium.defined(picked)) return picked;
  }
  return viewer.camera.pickEllipsoid(windowPosition, scene.globe.ellipsoid) || null;
}

/** lon, lat (degrees) and ellipsoidal height (m) of a Cartesian3. */
export function lonLatHeight(cartesian) {
  const c = Cesium.Cartographic.fromCartesian(cartesian);
  return { lon: Cesium.Math.toDegrees(c.longitude), lat: Cesium.Math.toDegrees(c.latitude), height: c.height };
}

/** A local east-north-up frame at `origin`: toLocal(Cartesian3) -> {x, y, z}, and back. */
export function enuFrame(origin) {
  const toWorld = Cesium.Transforms.eastNorthUpToFixedFrame(origin);
  const toEnu = Cesium.Matrix4.inverseTransformation(toWorld, new Cesium.Matrix4());
  return {
    toLocal: (p) => Cesium.Matrix4.multiplyByPoint(toEnu, p, new Cesium.Cartesian3()),
    toWorld: (x, y, z) => Cesium.Matrix4.multiplyByPoint(toWorld, new Cesium.Cartesian3(x, y, z), new Cesium.Cartesian3()),
  };
}

/** A data source of the tool's own drawings, added to the viewer. */
export function toolLayer(viewer, name) {
  const source = new Cesium.CustomDataSource(name);
  viewer.dataSources.add(source);
  return source;
}

/** Draw a marker point (always visible, on top of the models). */
export function addPoint(source, position, color = Cesium.Color.YELLOW) {
  return source.entities.add({ position, point: { pixelSize: 8, color, outlineColor: Cesium.Color.BLACK, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY } });
}

/** Draw a straight polyline through Cartesian3 positions. */
export function addLine(source, positions, color = Cesium.Color.YELLOW, width = 2) {
  return source.entities.add({ polyline: { positions, width, arcType: Cesium.ArcType.NONE, material: color, depthFailMaterial: color.withAlpha(0.4) } });
}

/** Draw a text label at a position. */
export function addLabel(source, position, text) {
  return source.entities.add({
    position,
    label: { text, font: "13px sans-serif", fillColor: Cesium.Color.WHITE, showBackground: true, backgroundColor: Cesium.Color.fromCssColorString("#142030cc"), pixelOffset: new Cesium.Cartesian2(0, -18), disableDepthTestDistance: Number.POSITIVE_INFINITY },
  });
}

/** Format metres with one decimal below 10 km, else kilometres. */
export function formatLength(m) {
  return Math.abs(m) < 10000 ? `${m.toFixed(2)} m` : `${(m / 1000).toFixed(3)} km`;
}

/** Format square metres. */
export function formatArea(m2) {
  return m2 < 1e6 ? `${m2.toFixed(1)} m²` : `${(m2 / 1e6).toFixed(4)} km²`;
}

/** Run async `fn` with every overlay (GIS layers, sensors, tool drawings) hidden, so
 * depth reads and rays meet only the models, the mesh and the globe. */
export async function withoutOverlaysAsync(viewer, fn) {
  const shown = [];
  for (let i = 0; i < viewer.dataSources.length; i++) {
    const source = viewer.dataSources.get(i);
    if (source.show) { shown.push(source); source.show = false; }
  }
  const entitiesShown = viewer.entities.show;
  viewer.entities.show = false;
  try {
    return await fn();
  } finally {
    shown.forEach((source) => (source.show = true));
    viewer.entities.show = entitiesShown;
  }
}

/** `point` raised by `metres` along the ellipsoid's up direction. */
export function raised(scene, point, metres) {
  const up = scene.globe.ellipsoid.geodeticSurfaceNormal(point, new Cesium.Cartesian3());
  return Cesium.Cartesian3.add(point, Cesium.Cartesian3.multiplyByScalar(up, metres, up), new Cesium.Cartesian3());
}
