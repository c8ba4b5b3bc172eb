// classify.js: project polygons drape over the terrain and the reality mesh only, never
// over BIM models or white models (issue #12, item 2).
//
// Ground polygons (GroundPrimitive, ClassificationType.BOTH) colour every pixel that
// 3D Tiles drew in the CESIUM_3D_TILE pass inside their volume. CesiumJS has no public
// per-tileset switch for "do not receive classification", so the contents of BIM and
// white-model tilesets are drawn in the OPAQUE pass instead: that pass runs after the
// classification passes, so those models are drawn over the draped colour with the
// normal depth test and are never coloured themselves. This uses Model's private
// `_opaquePass` (Cesium 1.140; the pass Model3DTileContent sets for tiles); when it is
// missing the models stay as they were (classified), nothing breaks.

const Cesium = window.Cesium;

/** Tileset kinds that must not take the project polygons' colour. */
export const UNCLASSIFIED_KINDS = new Set(["bim", "buildings"]);

/** The glTF models of a tile content (composite contents hold several). */
function modelsOf(content) {
  if (!content) return [];
  if (Array.isArray(content.innerContents)) return content.innerContents.flatMap(modelsOf);
  return content._model ? [content._model] : [];
}

/** Draw one loaded tile's models after the classification passes; true when changed. */
export function drawAfterClassification(tile) {
  const opaque = Cesium.Pass && Cesium.Pass.OPAQUE;
  let changed = false;
  for (const model of modelsOf(tile.content)) {
    if (opaque === undefined || !("_opaquePass" in model) || model._opaquePass === opaque) continue;
    model._opaquePass = opaque;
    model.resetDrawCommands(); // rebuilt with the new pass on the next frame
    changed = true;
  }
  return changed;
}

/** Keep `tileset` (a BIM or white model) out of ground classification, tile by tile. */
export function keepOutOfClassification(tileset, entry) {
  if (!UNCLASSIFIED_KINDS.has(entry.kind)) return false;
  tileset.tileLoad.addEventListener((tile) => drawAfterClassification(tile));
  return true;
}
