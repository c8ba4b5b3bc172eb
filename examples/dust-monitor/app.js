// A CIM+ app on its own origin: cimtwin's embeddable district view, the construction
// sites' live dust and noise, and a flight to the site that alarms (docs/api.md, "Embedding").
// Config in the URL: ?server=https://cim.example&client_id=app_...&client_secret=cts_...
// (or &token=cta_... from the app's own backend), optional &layers=a,b.

const params = new URLSearchParams(location.search);
const server = (params.get("server") || location.origin).replace(/\/$/, "");
const METRICS = ["dust", "noise_db"];
const sites = new Map(); // sensor id -> {id, name, lon, lat, values: {dust, noise_db}, alarm, row}
let view = null;
let tokenCache = null;
let lastEventId = null;

/** The app's bearer token: ?token=, or client credentials exchanged at the token endpoint. */
async function appToken({ renew = false } = {}) {
  if (params.get("token")) return params.get("token");
  if (tokenCache && !renew && Date.now() < tokenCache.until) return tokenCache.value;
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: params.get("client_id") || "", client_secret: params.get("client_secret") || "" });
  const response = await fetch(`${server}/api/v1/oauth/token`, { method: "POST", body });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const answer = await response.json();
  tokenCache = { value: answer.access_token, until: Date.now() + (answer.expires_in - 30) * 1000 };
  return tokenCache.value;
}

/** A call of the cimtwin API with the app's token. */
async function api(path, method = "GET") {
  const response = await fetch(`${server}${path}`, { method, headers: { Authorization: `Bearer ${await appToken()}` } });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

/** One table row per construction-site sensor; a click flies the view there. */
function renderSites() {
  const body = document.getElementById("sites");
  for (const site of sites.values()) {
    site.row = document.createElement("tr");
    site.row.dataset.sensor = site.id;
    for (const key of ["name", ...METRICS]) {
      const cell = site.row.insertCell();
      cell.textContent = key === "name" ? site.name : "–";
      if (key !== "name") { cell.dataset.metric = key; cell.className = "value"; }
    }
    site.row.addEventListener("click", () => view.flyTo(site.lon, site.lat, 500));
    body.append(site.row);
  }
}

/** Show a reading in its site's row. */
function showReading(reading) {
  const site = sites.get(reading.sensor_id);
  if (!site || !METRICS.includes(reading.metric)) return;
  site.values[reading.metric] = reading.value;
  site.row.querySelector(`[data-metric="${reading.metric}"]`).textContent = Number(reading.value).toFixed(reading.metric === "dust" ? 0 : 1);
}

/** Mark a site's alarm state; a newly raised alarm flies the view to the site. */
function showAlarm(alarm, fly) {
  const site = sites.get(alarm.sensor_id);
  if (!site || alarm.level !== "alarm") return;
  site.alarm = alarm.active ? alarm : null;
  site.row.classList.toggle("alarm", Boolean(site.alarm));
  if (site.alarm && fly) {
    document.getElementById("status").textContent = `告警 Alarm: ${site.name} ${alarm.metric} ${alarm.last_value ?? alarm.raised_value}`;
    view.flyTo(site.lon, site.lat, 500);
  }
}

/** Latest values and open alarms (on start and after the stream's reset); flies to the newest alarm. */
async function reload() {
  (await api("/api/v1/metrics/latest")).forEach(showReading);
  const { alarms } = await api("/api/v1/alarms");
  alarms.slice().reverse().forEach((alarm, i) => showAlarm(alarm, i === alarms.length - 1));
}

/** Live readings and alarms from the SSE stream (EventSource cannot send headers: stream token). */
async function connect() {
  const { token } = await api("/api/v1/metrics/stream-token", "POST");
  const query = new URLSearchParams({ token, metric: METRICS.join(",") });
  if (lastEventId) query.set("last_id", lastEventId);
  const stream = new EventSource(`${server}/api/v1/metrics/stream?${query}`);
  const status = document.getElementById("status");
  const track = (handler) => (event) => { lastEventId = event.lastEventId || lastEventId; handler(JSON.parse(event.data)); };
  stream.addEventListener("observation", track(showReading));
  stream.addEventListener("alarm", track((alarm) => showAlarm(alarm, alarm.event === "raised")));
  stream.addEventListener("reset", track(() => reload()));
  stream.onerror = () => {
    status.textContent = "连接中断，正在重连… Reconnecting…";
    // A closed stream (e.g. its token expired) is reopened with a new token, from the last id.
    if (stream.readyState === EventSource.CLOSED) setTimeout(() => connect().catch(fail), 2000);
  };
  await new Promise((resolve) => (stream.onopen = () => { status.textContent = "实时 Live"; resolve(); }));
}

/** Show a start-up failure on the page and in the console. */
function fail(error) {
  document.getElementById("status").textContent = `错误 Error: ${error.message || error}`;
  console.error(error);
}

async function main() {
  const { createDistrictView } = await import(`${server}/viewer/embed.js`);
  const layers = params.get("layers") ? params.get("layers").split(",") : undefined;
  view = await createDistrictView(document.getElementById("view"), { server, token: appToken, layers });
  if (!layers) view.layers().filter((l) => l.kind === "facilities").forEach((l) => view.hideLayer(l.ref));
  // Picking a site's sensor or its project area marks the site's row.
  view.on("pick", ({ properties: p }) => sites.forEach((site) => site.row.classList.toggle("picked", p.sensor_id === site.id || (p.project_id ?? null) === site.project)));
  const sensors = await api("/api/v1/sensors");
  for (const f of sensors.features.filter((s) => String(s.properties.metrics).split(",").includes("dust"))) {
    const [lon, lat] = f.geometry.coordinates;
    sites.set(f.properties.sensor_id, { id: f.properties.sensor_id, name: f.properties.name, project: f.properties.feature?.id ?? null, lon, lat, values: {}, alarm: null });
  }
  renderSites();
  await connect(); // open first, then read the latest values: nothing falls in between
  await reload();
  window.dustMonitor.ready = true;
}

window.dustMonitor = { ready: false, sites, get view() { return view; } };
main().catch(fail);
