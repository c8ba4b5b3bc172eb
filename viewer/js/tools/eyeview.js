// tools/eyeview.js: what an eye at a point sees, from the depth buffer. The camera is put
// at the eye looking along a heading/pitch with a wide field of view, one frame is
// rendered once its tiles are in, and directions or points are looked up by reading
// the depth at their pixels (scene.pickPosition: ~1 ms each, where a ray pick renders a
// whole pick pass per call). The user's camera is restored afterwards.
// This is the shadow-map idea done per query: the occlusion test of the sunlight and
// sight-line tools.

const Cesium = window.Cesium;
/** Field of view of one eye view (degrees, the larger screen dimension). */
export const EYE_FOV_DEG = 100;
/** Frames to wait at most for an eye view's tiles (then its depth is used as it is). */
const MAX_FRAMES = 600;

/** Resolve once every visible tileset has this view's tiles and 2 more frames ran. */
function viewRendered(viewer, tilesets) {
  return new Promise((resolve) => {
    let calm = 0, frames = 0;
    const remove = viewer.scene.postRender.addEventListener(() => {
      frames += 1;
      const done = [...tilesets].every((ts) => !ts.show || ts.tilesLoaded);
      calm = done ? calm + 1 : 0;
      if (calm >= 2 || frames > MAX_FRAMES) { remove(); resolve(frames <= MAX_FRAMES); } else viewer.scene.requestRender();
    });
    viewer.scene.requestRender(); // render on demand (scene.js): ask for the frames counted
  });
}

/** Put the camera at `eye` (Cartesian3) looking at heading/pitch (degrees), render, then
 * run `read(look)` where look(direction or point) -> {onScreen, surface (Cartesian3|null)}.
 * Restores the user's camera and field of view; resolves to read's result. */
export async function withEyeView(viewer, tilesets, eye, headingDeg, pitchDeg, read) {
  tilesets = [...tilesets]; // an iterator (Map.values()) is read on every frame below
  const camera = viewer.camera;
  const saved = { position: camera.position.clone(), direction: camera.direction.clone(), up: camera.up.clone(), fov: camera.frustum.fov };
  try {
    camera.frustum.fov = Cesium.Math.toRadians(EYE_FOV_DEG);
    camera.setView({ destination: eye, orientation: { heading: Cesium.Math.toRadians(headingDeg), pitch: Cesium.Math.toRadians(pitchDeg), roll: 0 } });
    await viewRendered(viewer, tilesets);
    return read((target) => lookAt(viewer.scene, eye, target));
  } finally {
    camera.frustum.fov = saved.fov;
    camera.setView({ destination: saved.position, orientation: { direction: saved.direction, up: saved.up } });
    // Depth picks right after this (the user's next click) must see the user's view again.
    await framesRendered(viewer, 2);
  }
}

/** Resolve after `n` more frames have been rendered. */
export function framesRendered(viewer, n) {
  return new Promise((resolve) => {
    let left = n;
    const remove = viewer.scene.postRender.addEventListener(() => { if (--left <= 0) { remove(); resolve(); } else viewer.scene.requestRender(); });
    viewer.scene.requestRender(); // render on demand (scene.js): ask for the frames counted
  });
}

/** The surface the eye sees in the direction of `target` (a point, or a unit vector
 * when it is short): null when the pixel shows sky, onScreen false when outside the view. */
function lookAt(scene, eye, target) {
  const isDirection = Cesium.Cartesian3.magnitude(target) < 2;
  const point = isDirection ? Cesium.Cartesian3.add(eye, Cesium.Cartesian3.multiplyByScalar(target, 1000, new Cesium.Cartesian3()), new Cesium.Cartesian3()) : target;
  const toPoint = Cesium.Cartesian3.subtract(point, eye, new Cesium.Cartesian3());
  if (Cesium.Cartesian3.dot(toPoint, scene.camera.direction) <= 0) return { onScreen: false, surface: null };
  const pixel = Cesium.SceneTransforms.worldToWindowCoordinates(scene, point);
  const canvas = scene.canvas;
  if (!pixel || pixel.x < 0 || pixel.y < 0 || pixel.x >= canvas.clientWidth || pixel.y >= canvas.clientHeight) return { onScreen: false, surface: null };
  const surface = scene.pickPosition(pixel);
  return { onScreen: true, surface: Cesium.defined(surface) ? surface : null, pixel: { x: pixel.x, y: pixel.y } };
}

/** Heading (0-360, from north) and pitch (degrees) of an Earth-fixed direction at `eye`. */
export function headingPitchOf(eye, direction) {
  const toEnu = Cesium.Matrix4.inverseTransformation(Cesium.Transforms.eastNorthUpToFixedFrame(eye), new Cesium.Matrix4());
  const d = Cesium.Matrix4.multiplyByPointAsVector(toEnu, direction, new Cesium.Cartesian3());
  const heading = (Cesium.Math.toDegrees(Math.atan2(d.x, d.y)) + 360) % 360;
  return { heading, pitch: Cesium.Math.toDegrees(Math.asin(Math.max(-1, Math.min(1, d.z / Cesium.Cartesian3.magnitude(d))))) };
}

/** Group directions (with their heading/pitch) into eye views that each hold all their
 * items on screen: at most ~80° of heading and ~60° of pitch per view (the eye view is
 * EYE_FOV_DEG wide, about 73° high at 16:10), so steep looks down from a mast or up at a
 * tower get a view of their own instead of falling outside one. */
export function viewsFor(items, maxHeading = 80, maxPitch = 60) {
  const byHeading = [];
  for (const item of [...items].sort((a, b) => a.heading - b.heading)) {
    const group = byHeading[byHeading.length - 1];
    if (group && item.heading - group[0].heading <= maxHeading) group.push(item);
    else byHeading.push([item]);
  }
  const views = [];
  for (const group of byHeading) {
    let band = null;
    for (const item of group.sort((a, b) => a.pitch - b.pitch)) {
      if (band && item.pitch - band[0].pitch <= maxPitch) band.push(item);
      else views.push((band = [item]));
    }
  }
  return views.map((band) => {
    const hs = band.map((i) => i.heading), ps = band.map((i) => i.pitch);
    return { items: band, heading: (Math.min(...hs) + Math.max(...hs)) / 2, pitch: Math.max(-85, Math.min(85, (Math.min(...ps) + Math.max(...ps)) / 2)) };
  });
}
