// bim.js: BIM model tools on a Cesium3DTileset: storey isolation, class hide/show and
// X-ray of the rest, all as one Cesium3DTileStyle built from a small state object.
// Storeys and classes are collected from the loaded tiles' features (EXT_structural_metadata)
// so the tools work even when the server's BIM index is absent.

const Cesium = window.Cesium;

/** Feature property ids the BIM importer writes (see docs/bim.md). */
export const STOREY_PROPERTY = "Storey";
export const CLASS_PROPERTY = "IfcClass";
export const GLOBAL_ID_PROPERTY = "GlobalId";

/** A fresh tool state: no storey isolated, no class hidden, no X-ray, nothing focused,
 * and no construction phase (timeline.js: "unbuilt" hides the model, "building" makes it
 * translucent on the day the planner looks at). */
export function createBimState() {
  return { storey: null, hiddenClasses: new Set(), xray: false, focusGlobalId: null, phase: null };
}

/** A Cesium style-expression string literal for any text. Cesium's expressions know
 * no escapes: backslashes are kept verbatim, and a text with single quotes is built as
 * a concatenation ('1F O' + "'" + 'Neil'). */
export function literal(text) {
  const parts = String(text).split("'");
  return parts.length === 1 ? `'${parts[0]}'` : `(${parts.map((p) => `'${p}'`).join(` + "'" + `)})`;
}

/** The expression true for features of the isolated storey, or null. */
function storeyExpression(state) {
  return state.storey !== null ? `\${${STOREY_PROPERTY}} === ${literal(state.storey)}` : null;
}

/** The X-ray focus: the isolated storey and/or the picked element, or null. */
function focusExpression(state) {
  const parts = [storeyExpression(state)];
  if (state.focusGlobalId) parts.push(`\${${GLOBAL_ID_PROPERTY}} === ${literal(state.focusGlobalId)}`);
  const present = parts.filter(Boolean);
  return present.length ? present.join(" || ") : null;
}

/** Style-JSON for the state, or null when the model should look as authored.
 * Without X-ray, an isolated storey hides the others; with X-ray, the focus (storey
 * and/or picked element) stays solid and everything else turns translucent. */
export function styleJsonFor(state) {
  if (state.phase === "unbuilt") return { show: "false" };
  const style = toolStyleJson(state);
  if (state.phase !== "building") return style;
  const building = style || { show: "true" };
  if (!building.color) building.color = "color('#ffffff', 0.4)";
  return building;
}

/** Style-JSON of the tools alone (storey, classes, X-ray), or null. */
function toolStyleJson(state) {
  const hidden = [...state.hiddenClasses].map((c) => `\${${CLASS_PROPERTY}} === ${literal(c)}`);
  const showParts = hidden.length ? [`!(${hidden.join(" || ")})`] : [];
  const storey = storeyExpression(state);
  if (storey && !state.xray) showParts.push(`(${storey})`);
  const focus = state.xray ? focusExpression(state) : null;
  if (!showParts.length && !focus) return null;
  const style = { show: showParts.length ? showParts.join(" && ") : "true" };
  if (focus) style.color = { conditions: [[focus, "color('white')"], ["true", "color('#9ec9ff', 0.15)"]] };
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
