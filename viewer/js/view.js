// view.js: the view as text, kept in the address bar and in bookmarks. A view is the
// camera (lon, lat, height in metres, heading/pitch/roll in degrees), the visible
// tilesets and layers, and the date the projects are shown at. It lives in the URL
// fragment (#cam=...&tilesets=...&layers=...&date=...), so a copied link opens the same
// view, and bookmarks keep it in localStorage (this browser only).

const Cesium = window.Cesium;
const BOOKMARKS_KEY = "cimtwin.bookmarks";
const VIEW_KEYS = ["cam", "tilesets", "layers", "date"];

/** The camera as [lon, lat, height, heading, pitch, roll] (degrees, metres; rounded). */
export function cameraOf(viewer) {
  const c = viewer.camera.positionCartographic;
  const deg = Cesium.Math.toDegrees;
  return [deg(c.longitude).toFixed(6), deg(c.latitude).toFixed(6), c.height.toFixed(1),
    deg(viewer.camera.heading).toFixed(1), deg(viewer.camera.pitch).toFixed(1), deg(viewer.camera.roll).toFixed(1)].map(Number);
}

/** Put the camera where `cam` ([lon, lat, height, heading, pitch, roll]) says. */
export function setCamera(viewer, cam) {
  const [lon, lat, height, heading = 0, pitch = -45, roll = 0] = cam;
  const r = Cesium.Math.toRadians;
  viewer.camera.setView({ destination: Cesium.Cartesian3.fromDegrees(lon, lat, height), orientation: { heading: r(heading), pitch: r(pitch), roll: r(roll) } });
}

/** A view {cam, tilesets, layers, date} as fragment text (without the #). */
export function viewToText(view) {
  const params = new URLSearchParams();
  if (view.cam) params.set("cam", view.cam.join(","));
  if (view.tilesets) params.set("tilesets", view.tilesets.join(","));
  if (view.layers) params.set("layers", view.layers.join(","));
  if (view.date) params.set("date", view.date);
  return params.toString().replace(/%2C/g, ",");
}

/** The view in fragment text, or null when it has none; bad parts are left out. */
export function viewFromText(text) {
  const params = new URLSearchParams(String(text || "").replace(/^#/, ""));
  if (!VIEW_KEYS.some((k) => params.has(k))) return null;
  const view = {};
  const cam = (params.get("cam") || "").split(",").map(Number);
  if (cam.length >= 3 && cam.every(Number.isFinite) && Math.abs(cam[0]) <= 180 && Math.abs(cam[1]) <= 90) view.cam = cam.slice(0, 6);
  const list = (key) => (params.get(key) || "").split(",").filter(Boolean);
  if (params.has("tilesets")) view.tilesets = list("tilesets");
  if (params.has("layers")) view.layers = list("layers");
  if (/^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "")) view.date = params.get("date");
  return view;
}

/** Write the view into the address bar (keeping other fragment parts), no history entry. */
export function writeViewToUrl(view) {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  VIEW_KEYS.forEach((k) => params.delete(k));
  const rest = params.toString();
  const text = [viewToText(view), rest].filter(Boolean).join("&");
  history.replaceState(null, "", `${window.location.pathname}${window.location.search}${text ? "#" + text : ""}`);
}

/** The saved bookmarks [{name, view}] of this browser. */
export function loadBookmarks() {
  try {
    const list = JSON.parse(localStorage.getItem(BOOKMARKS_KEY) || "[]");
    return Array.isArray(list) ? list.filter((b) => b && typeof b.name === "string" && typeof b.view === "string") : [];
  } catch (error) {
    return [];
  }
}

/** Save the bookmarks. */
export function saveBookmarks(list) {
  localStorage.setItem(BOOKMARKS_KEY, JSON.stringify(list));
}

/** The bookmarks section: a name field and add button, and one line per bookmark. */
export class BookmarkPanel {
  /** Bind to #bookmarks; `currentView()` gives the view text to save, `onOpen(text)` opens one. */
  constructor(root, { currentView, onOpen, t }) {
    Object.assign(this, { root, currentView, onOpen, t });
    this.name = root.querySelector("#bookmarkName");
    this.list = root.querySelector("#bookmarkList");
    root.querySelector("#bookmarkAdd").addEventListener("click", () => this.add());
    this.render();
  }

  /** Save the current view under the typed name (or a numbered one). */
  add() {
    const list = loadBookmarks();
    const name = this.name.value.trim() || `${this.t("bookmark.default")} ${list.length + 1}`;
    saveBookmarks([...list.filter((b) => b.name !== name), { name, view: this.currentView() }]);
    this.name.value = "";
    this.render();
  }

  /** One line per bookmark: open on click, delete with ×. */
  render() {
    const items = loadBookmarks().map((bookmark, i) => {
      const li = document.createElement("li");
      const open = Object.assign(document.createElement("a"), { href: `#${bookmark.view}`, textContent: bookmark.name });
      open.dataset.testid = `bookmark-${i}`;
      open.addEventListener("click", (event) => { event.preventDefault(); this.onOpen(bookmark.view); });
      const remove = Object.assign(document.createElement("button"), { type: "button", className: "close", textContent: "×", title: this.t("bookmark.delete") });
      remove.addEventListener("click", () => { saveBookmarks(loadBookmarks().filter((b) => b.name !== bookmark.name)); this.render(); });
      li.append(open, remove);
      return li;
    });
    this.list.replaceChildren(...items);
  }
}
