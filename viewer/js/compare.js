// compare.js: split-screen compare of two dates. Left of a draggable divider the
// district is shown as it was on date A, right of it as on date B: the projects' stage
// colours are drawn per date as imagery (split per side on the globe; on the reality
// mesh, a second copy of it takes the right side), and BIM models of a project follow
// each side's date (a second copy on the right). Entities cannot be split in CesiumJS,
// so the project polygons are hidden while comparing and come back after.

import { tilesetResource } from "./api.js";
import { STAGE_COLOURS, stageAt } from "./layers.js";
import { applyBimState } from "./bim.js";
import { phaseOn } from "./timeline.js";

const Cesium = window.Cesium;
/** Tileset kinds the stage imagery drapes over (the ground of the district). */
const GROUND_KINDS = new Set(["reality", "mesh", "terrain"]);
const TILE_PX = 256;

/** An imagery provider drawing project lots in their stage colour on `isoDate` (canvas tiles). */
export class StageImageryProvider {
  /** `projects`: [{properties, rings: [[[lon, lat], ...], ...]}]; `isoDate` "" is as recorded. */
  constructor(projects, isoDate) {
    this.projects = projects;
    this.isoDate = isoDate;
    this.tilingScheme = new Cesium.GeographicTilingScheme();
    const points = projects.flatMap((p) => p.rings.flat());
    const lons = points.map((q) => q[0]), lats = points.map((q) => q[1]);
    this.rectangle = points.length ? Cesium.Rectangle.fromDegrees(Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)) : Cesium.Rectangle.MAX_VALUE;
    Object.assign(this, { tileWidth: TILE_PX, tileHeight: TILE_PX, minimumLevel: 0, maximumLevel: 21, tileDiscardPolicy: undefined, credit: undefined, proxy: undefined, hasAlphaChannel: true, errorEvent: new Cesium.Event() });
  }

  /** No credits: our own data. */
  getTileCredits() {
    return undefined;
  }

  /** One tile: the lots that reach it, filled with their stage colour on the date. */
  requestImage(x, y, level) {
    const canvas = document.createElement("canvas");
    canvas.width = TILE_PX;
    canvas.height = TILE_PX;
    const r = this.tilingScheme.tileXYToRectangle(x, y, level);
    const ctx = canvas.getContext("2d");
    const px = (lon, lat) => [((Cesium.Math.toRadians(lon) - r.west) / r.width) * TILE_PX, ((r.north - Cesium.Math.toRadians(lat)) / r.height) * TILE_PX];
    for (const project of this.projects) {
      const stage = stageAt(project.properties, this.isoDate);
      if (!stage) continue;
      ctx.fillStyle = Cesium.Color.fromCssColorString(STAGE_COLOURS[stage] || "#aaaaaa").withAlpha(0.55).toCssColorString();
      ctx.beginPath();
      for (const ring of project.rings) ring.forEach(([lon, lat], i) => (i ? ctx.lineTo(...px(lon, lat)) : ctx.moveTo(...px(lon, lat))));
      ctx.fill("evenodd");
    }
    return Promise.resolve(canvas);
  }

  /** Nothing to pick in the stage imagery (the projects are picked as entities). */
  pickFeatures() {
    return undefined;
  }
}

/** The compare mode: enter(dateA, dateB), setDates, setPosition(0..1), leave(). */
export class DateCompare {
  /** `context`: {viewer, tilesets, entries, bim (id -> {tileset, state}), projects() ->
   * [{properties, rings}], projectOf(entry) -> properties, projectSources() -> [DataSource]}. */
  constructor(context) {
    this.context = context;
    this.active = false;
    this.layers = [];
    this.copies = new Map(); // tileset id -> its right-side copy
  }

  /** Split the view: date A on the left, date B on the right ("" is as recorded). */
  async enter(dateA, dateB) {
    const { viewer, tilesets, entries } = this.context;
    this.active = true;
    this.hidden = this.context.projectSources().filter((s) => s.show);
    this.hidden.forEach((s) => (s.show = false));
    for (const entry of entries.filter((e) => tilesets.has(e.id) && (GROUND_KINDS.has(e.kind) || e.kind === "bim"))) {
      const copy = await Cesium.Cesium3DTileset.fromUrl(tilesetResource(entry.id), { maximumScreenSpaceError: 16 });
      if (!this.active) { copy.destroy(); return; } // left while loading
      copy.cimtwinEntry = entry;
      tilesets.get(entry.id).splitDirection = Cesium.SplitDirection.LEFT;
      copy.splitDirection = Cesium.SplitDirection.RIGHT;
      copy.show = tilesets.get(entry.id).show;
      viewer.scene.primitives.add(copy);
      this.copies.set(entry.id, copy);
    }
    this.setPosition(viewer.scene.splitPosition || 0.5);
    this.setDates(dateA, dateB);
  }

  /** Draw date A left and date B right: stage imagery and BIM phases of each side. */
  setDates(dateA, dateB) {
    if (!this.active) return;
    Object.assign(this, { dateA: dateA || "", dateB: dateB || "" });
    const { viewer, tilesets, entries, bim } = this.context;
    this.removeImagery();
    const projects = this.context.projects();
    for (const [side, date] of [[Cesium.SplitDirection.LEFT, this.dateA], [Cesium.SplitDirection.RIGHT, this.dateB]]) {
      const globe = viewer.imageryLayers.addImageryProvider(new StageImageryProvider(projects, date));
      globe.splitDirection = side;
      this.layers.push([viewer.imageryLayers, globe]);
      for (const entry of entries.filter((e) => GROUND_KINDS.has(e.kind) && tilesets.has(e.id))) {
        const target = side === Cesium.SplitDirection.LEFT ? tilesets.get(entry.id) : this.copies.get(entry.id);
        if (!target) continue;
        const layer = target.imageryLayers.addImageryProvider(new StageImageryProvider(projects, date));
        this.layers.push([target.imageryLayers, layer]);
      }
    }
    for (const [id, model] of bim) {
      const entry = entries.find((e) => e.id === id);
      const project = entry && this.context.projectOf(entry);
      applyBimState(model.tileset, { ...model.state, phase: phaseOn(project, this.dateA) });
      const copy = this.copies.get(id);
      if (copy) applyBimState(copy, { ...model.state, focusGlobalId: null, phase: phaseOn(project, this.dateB) });
    }
    viewer.scene.requestRender();
  }

  /** Where the divider is, as a fraction of the canvas width from the left. */
  setPosition(fraction) {
    this.context.viewer.scene.splitPosition = Math.min(1, Math.max(0, fraction));
    this.context.viewer.scene.requestRender();
  }

  /** Remove the stage imagery of both sides. */
  removeImagery() {
    this.layers.forEach(([collection, layer]) => collection.remove(layer, true));
    this.layers = [];
  }

  /** Back to one view: copies and imagery gone, projects and models as before. */
  leave() {
    if (!this.active) return;
    const { viewer, tilesets, bim } = this.context;
    this.active = false;
    this.removeImagery();
    this.copies.forEach((copy) => viewer.scene.primitives.remove(copy)); // destroys it
    this.copies.clear();
    tilesets.forEach((ts) => (ts.splitDirection = Cesium.SplitDirection.NONE));
    bim.forEach((model) => applyBimState(model.tileset, model.state));
    (this.hidden || []).forEach((s) => (s.show = true));
    viewer.scene.requestRender();
  }
}
