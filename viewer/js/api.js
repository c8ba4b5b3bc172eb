// api.js: the one module that knows the server's URLs. Every other module asks here.
// A missing endpoint (404, network error) yields a fallback value, never a page error,
// so the viewer works while parts of the server are absent or a user lacks access.

const TOKEN_KEY = "cimtwin.token";

/** Take an access token from the URL fragment (#token=...) into this tab's session. */
export function adoptTokenFromUrl() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  // Drop it from the address bar so it is not bookmarked or shared by accident.
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

/** Authorization header for internal/restricted data, when the user gave a token. */
export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Fetch JSON from `url`; on any failure log a warning and return `fallback`. */
export async function getJson(url, fallback) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
    if (!response.ok) {
      console.warn(`cimtwin: ${url} answered ${response.status}`);
      return fallback;
    }
    return await response.json();
  } catch (error) {
    console.warn(`cimtwin: ${url} failed: ${error}`);
    return fallback;
  }
}

/** Viewer settings: imagery source, home view and language. */
export function fetchConfig() {
  return getJson("/api/config", {});
}

/** Catalog entries the current user may see: [{id, name, kind, bounds, ...}]. */
export async function fetchTilesets() {
  const body = await getJson("/api/tilesets", []);
  return Array.isArray(body) ? body : body.tilesets || [];
}

/** One tileset's root tileset.json as a Cesium Resource (its tiles inherit the headers). */
export function tilesetResource(id) {
  return new window.Cesium.Resource({ url: `/tiles/${encodeURIComponent(id)}/tileset.json`, headers: authHeaders() });
}

/** OGC API - Features collections: [{id, title, kind, ...}]. */
export async function fetchCollections() {
  const body = await getJson("/ogc/collections", { collections: [] });
  return body.collections || [];
}

/** A collection's features as a GeoJSON FeatureCollection (lon/lat). */
export function fetchItems(collectionId, limit = 1000) {
  const url = `/ogc/collections/${encodeURIComponent(collectionId)}/items?limit=${limit}&f=json`;
  return getJson(url, { type: "FeatureCollection", features: [] });
}

/** Latest observation of every sensor and metric. */
export function fetchLatestMetrics() {
  return getJson("/api/metrics/latest", []);
}

/** Observations of one sensor's metric over the last `hours`, in `bucketS` second buckets. */
export function fetchMetricHistory(sensorId, metric, hours = 6, bucketS = 60) {
  const from = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const query = new URLSearchParams({ sensor: sensorId, metric, from, bucket: String(bucketS) });
  return getJson(`/api/metrics/history?${query}`, []);
}

/** Registered sensors (GeoJSON) with their datastreams: thresholds, sampling, attached feature. */
export function fetchSensorRegistry() {
  return getJson("/api/sensors", { type: "FeatureCollection", features: [] });
}

/** A short-lived token for the live stream carrying this user's access (or null). */
export async function fetchStreamToken() {
  try {
    const response = await fetch("/api/metrics/stream-token", { method: "POST", headers: { Accept: "application/json", ...authHeaders() } });
    return response.ok ? (await response.json()).token : null;
  } catch (error) {
    console.warn(`cimtwin: stream token failed: ${error}`);
    return null;
  }
}

/** Server-Sent Events stream URL of live observations. */
export const METRICS_STREAM_URL = "/api/metrics/stream";

/** One BIM element's full record (original property names), or null. */
export function fetchBimElement(tilesetId, globalId) {
  const url = `/api/bim/${encodeURIComponent(tilesetId)}/elements/${encodeURIComponent(globalId)}`;
  return getJson(url, null);
}

/** A BIM model's storeys, or null when the server has no BIM index for it. */
export function fetchBimStoreys(tilesetId) {
  return getJson(`/api/bim/${encodeURIComponent(tilesetId)}/storeys`, null);
}

/** A BIM model's element classes, or null when the server has no BIM index for it. */
export function fetchBimClasses(tilesetId) {
  return getJson(`/api/bim/${encodeURIComponent(tilesetId)}/classes`, null);
}
