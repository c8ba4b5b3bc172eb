// panel.js: the layer panel's DOM wiring (tileset and GIS toggles, stage legend, BIM
// tools). It knows nothing of Cesium: it calls back with what the user chose.

import { t, label } from "./i18n.js";

/** A small "zoom to" button; `onZoom()` on click. */
function zoomButton(onZoom, testId) {
  const button = Object.assign(document.createElement("button"), { type: "button", className: "zoom", textContent: "⌖", title: t("ui.zoomTo") });
  button.dataset.testid = testId;
  button.addEventListener("click", () => onZoom());
  return button;
}

/** A <li> holding a checkbox and a caption; `onChange(checked)` on toggle. */
function toggleItem(caption, checked, onChange, testId) {
  const li = document.createElement("li");
  const input = Object.assign(document.createElement("input"), { type: "checkbox", checked });
  input.dataset.testid = testId;
  input.addEventListener("change", () => onChange(input.checked));
  const text = Object.assign(document.createElement("span"), { textContent: ` ${caption}` });
  const wrap = document.createElement("label");
  wrap.className = "inline";
  wrap.append(input, text);
  li.appendChild(wrap);
  return li;
}

/** A greyed "none" line for an empty list. */
function emptyItem() {
  return Object.assign(document.createElement("li"), { className: "empty", textContent: t("panel.none") });
}

/** Fill `list` with one toggle per item {id, caption, kind, visible}; `onToggle(id, visible)`,
 * and with `onZoom` a zoom-to button each (`onZoom(id)`). Each checkbox gets
 * data-testid="<testPrefix>-<id>", each button "zoom-<testPrefix>-<id>". */
export function renderToggles(list, items, onToggle, testPrefix, onZoom = null) {
  const toggles = items.map((item) => {
    const li = toggleItem(`${item.caption} (${label("kind", item.kind)})`, item.visible, (v) => onToggle(item.id, v), `${testPrefix}-${item.id}`);
    if (onZoom) li.firstChild.append(zoomButton(() => onZoom(item.id), `zoom-${testPrefix}-${item.id}`));
    return li;
  });
  list.replaceChildren(...(toggles.length ? toggles : [emptyItem()]));
}

/** Fill the legend with one swatch per lifecycle stage. */
export function renderLegend(container, stageColours) {
  const title = Object.assign(document.createElement("h4"), { textContent: t("panel.legend") });
  const items = Object.entries(stageColours).map(([stage, colour]) => {
    const item = Object.assign(document.createElement("div"), { className: "item" });
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = colour;
    item.append(swatch, document.createTextNode(label("stage", stage)));
    return item;
  });
  container.replaceChildren(title, ...items);
}

/** Options of a <select>: [[value, caption], ...], keeping the current value if still there. */
function fillSelect(select, options) {
  const current = select.value;
  select.replaceChildren(...options.map(([value, caption]) => Object.assign(document.createElement("option"), { value, textContent: caption })));
  if (options.some(([value]) => value === current)) select.value = current;
}

/** The BIM tools section: model choice, storey isolation, X-ray, class toggles. */
export class BimPanel {
  /** Bind to the section; `handlers` = {onModel(id), onStorey(name|null), onXray(bool), onClass(name, visible)}. */
  constructor(root, handlers) {
    this.root = root;
    this.model = root.querySelector("#bimModel");
    this.storey = root.querySelector("#bimStorey");
    this.xray = root.querySelector("#bimXray");
    this.classes = root.querySelector("#bimClasses");
    this.model.addEventListener("change", () => handlers.onModel(this.model.value));
    this.storey.addEventListener("change", () => handlers.onStorey(this.storey.value === "" ? null : this.storey.value));
    this.xray.addEventListener("change", () => handlers.onXray(this.xray.checked));
    this.handlers = handlers;
  }

  /** List the BIM models [{id, name}]; the section shows only when there is one. */
  setModels(models) {
    fillSelect(this.model, models.map((m) => [m.id, m.name || m.id]));
    this.root.hidden = models.length === 0;
  }

  /** Show the storeys and classes of the chosen model, with its tool state. */
  setIndex(storeys, classes, state) {
    fillSelect(this.storey, [["", t("bim.allStoreys")], ...storeys.map((s) => [s, s])]);
    this.storey.value = state.storey ?? "";
    this.xray.checked = state.xray;
    const items = classes.map((c) => ({ id: c, caption: c, kind: "bim", visible: !state.hiddenClasses.has(c) }));
    this.classes.replaceChildren(...items.map((item) => toggleItem(item.caption, item.visible, (v) => this.handlers.onClass(item.id, v), `class-${item.id}`)));
  }
}
