// clipping.js: a construction project's polygon cuts the reality mesh (CesiumJS
// clipping polygons), so the project's BIM model shows in place of the photographed
// buildings. Toggled per project; every reality tileset gets the same cut.
// Cesium logic first (ProjectClipping), the panel's toggles last (renderClipToggles).

import { t } from "./i18n.js";

const Cesium = window.Cesium;
/** Catalog kinds that are photographed scenes (delivered 3D Tiles usually are). */
const CLIPPED_KINDS = new Set(["reality", "tileset"]);

/** Outer rings ([[lon, lat], ...]) of a GeoJSON Polygon or MultiPolygon. */
export function outerRings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates[0]];
  if (geometry.type === "MultiPolygon") return geometry.coordinates.map((polygon) => polygon[0]);
  return [];
}

/** The projects of a projects layer's GeoJSON features: {id, name, rings}. */
export function projectsOf(features) {
  return features.map((feature, index) => ({
    id: String(feature.id ?? feature.properties?.id ?? `p${index}`),
    name: feature.properties?.name ?? feature.properties?.name_zh ?? String(feature.id ?? index),
    rings: outerRings(feature.geometry),
  })).filter((project) => project.rings.length);
}

/** A ring as flat [lon, lat, ...] degrees, without GeoJSON's repeated closing point. */
function ringDegrees(ring) {
  const last = ring[ring.length - 1];
  const closed = ring.length > 3 && ring[0][0] === last[0] && ring[0][1] === last[1];
  return (closed ? ring.slice(0, -1) : ring).flatMap(([lon, lat]) => [lon, lat]);
}

/** One ClippingPolygon per ring. */
function polygonsOf(rings) {
  return rings.map((ring) => new Cesium.ClippingPolygon({ positions: Cesium.Cartesian3.fromDegreesArray(ringDegrees(ring)) }));
}

/** Keeps the clipped projects and applies them to every reality tileset. */
export class ProjectClipping {
  /** `tilesets`: Map id -> Cesium3DTileset; `entries`: catalog entries (their kinds). */
  constructor(viewer, tilesets, entries) {
    this.viewer = viewer;
    this.targets = entries.filter((e) => CLIPPED_KINDS.has(e.kind) && tilesets.has(e.id)).map((e) => tilesets.get(e.id));
    this.active = new Map();
  }

  /** Clipping polygons need WebGL 2; without it the toggles are not offered. */
  get supported() {
    return Cesium.ClippingPolygonCollection.isSupported(this.viewer.scene);
  }

  /** Cut (rings given) or restore (null) the mesh inside one project. */
  setClipped(projectId, rings) {
    if (rings && rings.length) this.active.set(projectId, rings);
    else this.active.delete(projectId);
    this.apply();
  }

  /** Ids of the projects cutting the mesh now. */
  clippedIds() {
    return [...this.active.keys()];
  }

  /** Give each target tileset a fresh collection of the active polygons (a collection
   * belongs to one tileset; assigning a new one destroys the old). */
  apply() {
    const rings = [...this.active.values()].flat();
    for (const tileset of this.targets) {
      tileset.clippingPolygons = rings.length
        ? new Cesium.ClippingPolygonCollection({ polygons: polygonsOf(rings) })
        : undefined;
    }
    this.viewer.scene.requestRender();
  }
}

/** The panel section: one toggle per project; `onToggle(project, on)`. */
export function renderClipToggles(container, projects, clipping, onToggle) {
  const title = Object.assign(document.createElement("h3"), { textContent: t("clip.title") });
  title.dataset.i18n = "clip.title";
  const list = Object.assign(document.createElement("ul"), { className: "toggles" });
  for (const project of projects) {
    const item = document.createElement("li");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: clipping.active.has(project.id) });
    box.dataset.test = `clip-${project.id}`;
    box.addEventListener("change", () => onToggle(project, box.checked));
    const caption = Object.assign(document.createElement("label"), { textContent: project.name });
    caption.prepend(box);
    item.append(caption);
    list.append(item);
  }
  container.hidden = !projects.length || !clipping.targets.length || !clipping.supported;
  container.replaceChildren(title, list);
}
