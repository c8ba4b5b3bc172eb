// api.js: the one module that knows the server's URLs. Every other module asks here.
// A missing endpoint (404, network error) yields a fallback value, never a page error,
// so the viewer works while parts of the server are absent or a user lacks access.

const TOKEN_KEY = "cimtwin.token";
// Every server API URL is under /api/v1/ (server/versioning.py); the unversioned /api/
// paths are deprecated aliases the viewer never uses.

/** Take an access token from the URL fragment (#token=...) into this tab's session. */
export function adoptTokenFromUrl() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  // Drop it from the address bar so it is not bookmarked or shared by accident (the rest
  // of the fragment, the view of view.js, stays).
  const rest = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  rest.delete("token");
  const text = rest.toString().replace(/%2C/g, ",");
  history.replaceState(null, "", window.location.pathname + window.location.search + (text ? `#${text}` : ""));
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
  return getJson("/api/v1/config", {});
}

/** Catalog entries the current user may see: [{id, name, kind, bounds, ...}]. */
export async function fetchTilesets() {
  const body = await getJson("/api/v1/tilesets", []);
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
  return getJson("/api/v1/metrics/latest", []);
}

/** Observations of one sensor's metric over the last `hours`, in `bucketS` second buckets. */
export function fetchMetricHistory(sensorId, metric, hours = 6, bucketS = 60) {
  const from = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const query = new URLSearchParams({ sensor: sensorId, metric, from, bucket: String(bucketS) });
  return getJson(`/api/v1/metrics/history?${query}`, []);
}

/** Registered sensors (GeoJSON) with their datastreams: thresholds, sampling, attached feature. */
export function fetchSensorRegistry() {
  return getJson("/api/v1/sensors", { type: "FeatureCollection", features: [] });
}

/** A short-lived token for the live stream carrying this user's access (or null). */
export async function fetchStreamToken() {
  try {
    const response = await fetch("/api/v1/metrics/stream-token", { method: "POST", headers: { Accept: "application/json", ...authHeaders() } });
    return response.ok ? (await response.json()).token : null;
  } catch (error) {
    console.warn(`cimtwin: stream token failed: ${error}`);
    return null;
  }
}

/** Server-Sent Events stream URL of live observations. */
export const METRICS_STREAM_URL = "/api/v1/metrics/stream";

/** One BIM element's full record (original property names), or null. */
export function fetchBimElement(tilesetId, globalId) {
  const url = `/api/v1/bim/${encodeURIComponent(tilesetId)}/elements/${encodeURIComponent(globalId)}`;
  return getJson(url, null);
}

/** A BIM model's storeys, or null when the server has no BIM index for it. */
export function fetchBimStoreys(tilesetId) {
  return getJson(`/api/v1/bim/${encodeURIComponent(tilesetId)}/storeys`, null);
}

/** A BIM model's element classes, or null when the server has no BIM index for it. */
export function fetchBimClasses(tilesetId) {
  return getJson(`/api/v1/bim/${encodeURIComponent(tilesetId)}/classes`, null);
}

/** Merge-patch one feature's properties (OGC API Part 4): {ok, feature} or {ok: false, detail}. */
export async function patchItem(collectionId, featureId, properties) {
  const url = `/ogc/collections/${encodeURIComponent(collectionId)}/items/${encodeURIComponent(featureId)}`;
  try {
    const response = await fetch(url, { method: "PATCH", headers: { "Content-Type": "application/merge-patch+json", Accept: "application/geo+json", ...authHeaders() }, body: JSON.stringify({ properties }) });
    const body = await response.json().catch(() => ({}));
    return response.ok ? { ok: true, feature: body } : { ok: false, detail: body.detail || body.title || String(response.status) };
  } catch (error) {
    return { ok: false, detail: String(error) };
  }
}

/** Features of a collection changed at or after `since` (their updated_at), lon/lat. */
export function fetchItemsChangedSince(collectionId, since, limit = 1000) {
  if (!since) return Promise.resolve({ type: "FeatureCollection", features: [] });
  const query = new URLSearchParams({ filter: `updated_at >= TIMESTAMP('${since}')`, "filter-lang": "cql2-text", limit: String(limit), f: "json" });
  return getJson(`/ogc/collections/${encodeURIComponent(collectionId)}/items?${query}`, { type: "FeatureCollection", features: [] });
}

// --- sign-in (server/auth_api.py, docs/security.md) ---------------------------------------

let csrfToken = null;

/** Header a write needs when the user is signed in with the session cookie (CSRF). */
export function csrfHeaders() {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

/** Who this browser is: {name, role, via, levels, actions}; anonymous when not signed in. */
export async function fetchMe() {
  const me = await getJson("/api/v1/me", { name: "anonymous", via: "anonymous", levels: [], actions: [] });
  csrfToken = me.csrf || null;
  return me;
}

/** Sign in; resolves {ok, status, user}. The server sets the HttpOnly session cookie. */
export async function signIn(username, password) {
  const response = await fetch("/api/v1/login", {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) csrfToken = body.csrf;
  return { ok: response.ok, status: response.status, user: body.user };
}

/** End the session. */
export async function signOut() {
  const response = await fetch("/api/v1/logout", { method: "POST", headers: csrfHeaders() });
  await response.text();  // read the answer fully before the page reloads
  csrfToken = null;
}

// --- alarms (server/alarms_api.py, docs/metrics.md "Alarms API") -------------------------

/** Open alarms the caller may see: [alarm...] (newest first). */
export async function fetchOpenAlarms() {
  return (await getJson("/api/v1/alarms", { alarms: [] })).alarms || [];
}

/** The alarm events of the last 24 hours, oldest first. */
export async function fetchAlarmLog() {
  return (await getJson("/api/v1/alarms/log", { events: [] })).events || [];
}

/** Acknowledge an alarm with a note: {ok, alarm} or {ok: false, detail}. */
export async function acknowledgeAlarm(alarmId, note = "") {
  try {
    const response = await fetch(`/api/v1/alarms/${encodeURIComponent(alarmId)}/ack`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders(), ...csrfHeaders() },
      body: JSON.stringify({ note }),
    });
    const body = await response.json().catch(() => ({}));
    return response.ok ? { ok: true, alarm: body } : { ok: false, detail: body.detail || body.title || String(response.status) };
  } catch (error) {
    return { ok: false, detail: String(error) };
  }
}

/** Search names and ids (server/search_api.py): {results: [{kind, name, position, ...}]}. */
export function fetchSearch(query, limit = 20) {
  const params = new URLSearchParams({ q: query, limit: String(limit) });
  return getJson(`/api/v1/search?${params}`, { results: [] });
}

// --- history charts (charts.js) ------------------------------------------------------------

/** The alarm events (raised, cleared, acknowledged) since `hours` ago, oldest first. */
export async function fetchAlarmEventsSince(hours) {
  const from = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  return (await getJson(`/api/v1/alarms/log?${new URLSearchParams({ from })}`, { events: [] })).events || [];
}

/** A BIM model's element tree (storeys -> classes, with counts), or null without an index. */
export function fetchBimTree(tilesetId) {
  return getJson(`/api/v1/bim/${encodeURIComponent(tilesetId)}/tree`, null);
}
