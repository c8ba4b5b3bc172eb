// tilesets.js: loads every catalog tileset into the scene and counts what happens
// (tiles loaded, tiles failed, bytes) so the UI and the browser tests can tell.

import { tilesetResource } from "./api.js";

const Cesium = window.Cesium;

/** Counters shared with the test hook: tile failures, loads and content bytes. */
export function createStats() {
  return { tilesLoaded: 0, tileFailed: 0, failures: [], bytes: 0, tilesetsFailed: [], allLoaded: {} };
}

/** Bytes of a loaded tile's content (geometry + textures in GPU memory terms). */
function contentBytes(tile) {
  const content = tile.content;
  if (!content) return 0;
  return (content.geometryByteLength || 0) + (content.texturesByteLength || 0);
}

/** Count the tileset's load/fail/all-loaded events into `stats` under `entry.id`. */
function watchTileset(tileset, entry, stats, onChange) {
  stats.allLoaded[entry.id] = false;
  tileset.tileLoad.addEventListener((tile) => {
    stats.tilesLoaded += 1;
    stats.bytes += contentBytes(tile);
  });
  tileset.tileFailed.addEventListener((error) => {
    stats.tileFailed += 1;
    stats.failures.push({ tileset: entry.id, url: String(error.url), message: String(error.message) });
    console.error(`cimtwin: tile failed in ${entry.id}: ${error.url}: ${error.message}`);
  });
  tileset.allTilesLoaded.addEventListener(() => {
    stats.allLoaded[entry.id] = true;
    onChange();
  });
}

/** Load one catalog entry as a Cesium3DTileset, or null (recorded) if it cannot load. */
export async function loadTileset(viewer, entry, stats, onChange = () => {}, onCreated = () => {}) {
  try {
    const tileset = await Cesium.Cesium3DTileset.fromUrl(tilesetResource(entry.id), {
      // Keep the initial view light: a tile refines when its error exceeds 16 px.
      maximumScreenSpaceError: 16,
    });
    tileset.cimtwinEntry = entry;
    watchTileset(tileset, entry, stats, onChange);
    onCreated(tileset, entry);
    viewer.scene.primitives.add(tileset);
    return tileset;
  } catch (error) {
    stats.tilesetsFailed.push({ tileset: entry.id, message: String(error) });
    console.error(`cimtwin: tileset ${entry.id} could not load: ${error}`);
    return null;
  }
}

/** Load all catalog entries; resolves to a Map id -> Cesium3DTileset of those that loaded.
 * `onCreated(tileset, entry)` runs before a tileset's first tile loads. */
export async function loadTilesets(viewer, entries, stats, onChange, onCreated) {
  const tilesets = new Map();
  const loaded = await Promise.all(entries.map((entry) => loadTileset(viewer, entry, stats, onChange, onCreated)));
  loaded.forEach((tileset, i) => tileset && tilesets.set(entries[i].id, tileset));
  return tilesets;
}

/** Show or hide a tileset. */
export function setTilesetVisible(tileset, visible) {
  tileset.show = visible;
}

/** True once every visible tileset has fired allTilesLoaded since it was added. */
export function allTilesetsLoaded(tilesets, stats) {
  return [...tilesets.keys()].every((id) => stats.allLoaded[id] || !tilesets.get(id).show);
}

/** Centre [lon, lat] of a catalog entry's bounds, or null. */
export function boundsCentre(entry) {
  const b = entry.bounds;
  return Array.isArray(b) && b.length === 4 ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : null;
}
