// bim.js: BIM model tools on a Cesium3DTileset: storey isolation, class hide/show and
// X-ray of the rest, all as one Cesium3DTileStyle built from a small state object.
// Storeys and classes are collected from the loaded tiles' features (EXT_structural_metadata)
// so the tools work even when the server's BIM index is absent.

const Cesium = window.Cesium;

/** Feature property ids the BIM importer writes (see docs/bim.md). */
export const STOREY_PROPERTY = "Storey";
export const CLASS_PROPERTY = "IfcClass";
export const GLOBAL_ID_PROPERTY = "GlobalId";

/** A fresh tool state: no storey isolated, no class hidden, no X-ray, nothing focused. */
export function createBimState() {
  return { storey: null, hiddenClasses: new Set(), xray: false, focusGlobalId: null };
}

/** A Cesium style-expression string literal (quotes and backslashes escaped). */
export function literal(text) {
  return `'${String(text).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The expression true for the features in focus (isolated storey or picked element). */
function focusExpression(state) {
  const parts = [];
  if (state.storey !== null) parts.push(`\${${STOREY_PROPERTY}} === ${literal(state.storey)}`);
  if (state.focusGlobalId) parts.push(`\${${GLOBAL_ID_PROPERTY}} === ${literal(state.focusGlobalId)}`);
  return parts.length ? parts.join(" || ") : null;
}

/** Style-JSON for the state, or null when the model should look as authored. */
export function styleJsonFor(state) {
  const focus = focusExpression(state);
  const hidden = [...state.hiddenClasses].map((c) => `\${${CLASS_PROPERTY}} === ${literal(c)}`);
  const showParts = [];
  if (hidden.length) showParts.push(`!(${hidden.join(" || ")})`);
  if (focus && !state.xray) showParts.push(`(${focus})`);
  if (!showParts.length && !(focus && state.xray)) return null;
  const style = { show: showParts.length ? showParts.join(" && ") : "true" };
  if (focus && state.xray) {
    style.color = { conditions: [[focus, "color('white')"], ["true", "color('#9ec9ff', 0.15)"]] };
  }
  return style;
}

/** Apply the state to a tileset as a Cesium3DTileStyle (or clear the style). */
export function applyBimState(tileset, state) {
  const json = styleJsonFor(state);
  tileset.style = json ? new Cesium.Cesium3DTileStyle(json) : undefined;
}

/** Values of one property over the features of a loaded tile's content. */
function featureValues(content, propertyId) {
  const values = [];
  for (let i = 0; i < (content.featuresLength || 0); i++) {
    const value = content.getFeature(i).getProperty(propertyId);
    if (value !== undefined && value !== null && value !== "") values.push(String(value));
  }
  return values;
}

/** Start collecting storeys and classes of `tileset` as its tiles load; returns the sets. */
export function collectBimIndex(tileset, onChange = () => {}) {
  const index = { storeys: new Set(), classes: new Set() };
  tileset.tileLoad.addEventListener((tile) => {
    if (!tile.content) return;
    const before = index.storeys.size + index.classes.size;
    featureValues(tile.content, STOREY_PROPERTY).forEach((v) => index.storeys.add(v));
    featureValues(tile.content, CLASS_PROPERTY).forEach((v) => index.classes.add(v));
    if (index.storeys.size + index.classes.size !== before) onChange(index);
  });
  return index;
}

/** Names from a /storeys or /classes answer: ["a", ...], [{name|class|id}], or {storeys|classes: [...]}. */
export function namesFrom(body, key) {
  const list = Array.isArray(body) ? body : body && Array.isArray(body[key]) ? body[key] : [];
  return list.map((item) => (typeof item === "object" && item !== null ? item.name ?? item.class ?? item.ifc_class ?? item.id : item)).filter((n) => n !== undefined && n !== null).map(String);
}
