// layertree.js: the thematic layers' tree in the panel. Under each layer's toggle (and
// zoom-to, panel.js) it adds an opacity slider and the layer's own legend: stage colours
// for projects, each facility category with its icon, the value ramp and alarm levels for
// sensors. DOM only: it calls back with the opacity the user chose.

import { t, label, getLanguage } from "./i18n.js";
import { facilityIconUrl } from "./icons.js";

/** One legend row: a swatch (colour or icon) and a caption. */
function legendRow(caption, { colour = null, icon = null, gradient = null } = {}) {
  const row = Object.assign(document.createElement("div"), { className: "item" });
  if (icon) row.append(Object.assign(document.createElement("img"), { className: "legend-icon", src: icon, alt: "" }));
  else {
    const swatch = Object.assign(document.createElement("span"), { className: gradient ? "ramp" : "swatch" });
    swatch.style.background = gradient || colour;
    row.append(swatch);
  }
  row.append(document.createTextNode(caption));
  return row;
}

/** A facility category's name: the data's own Chinese name, else the i18n table. */
function categoryCaption(category, sample) {
  if (getLanguage() === "zh" && sample && sample.category_zh) return sample.category_zh;
  return label("category", category);
}

/** Legend rows of a facility layer: one per category present, with its icon and count. */
function facilityLegend(features) {
  const byCategory = new Map();
  for (const feature of features) {
    const props = feature.properties || {};
    const category = props.category || "other";
    const entry = byCategory.get(category) || { count: 0, sample: props };
    entry.count += 1;
    byCategory.set(category, entry);
  }
  return [...byCategory.entries()].sort((a, b) => b[1].count - a[1].count)
    .map(([category, { count, sample }]) => {
      const row = legendRow(`${categoryCaption(category, sample)} (${count})`, { icon: facilityIconUrl(category) });
      row.dataset.category = category;
      return row;
    });
}

/** Legend rows of a sensor layer: the fill ramp (0 to the alarm threshold), outline levels. */
function sensorLegend(ramp, levels) {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((f) => ramp(f)).join(", ");
  return [
    legendRow(t("legend.ramp"), { gradient: `linear-gradient(to right, ${stops})` }),
    ...Object.entries(levels).map(([level, colour]) => legendRow(t(`legend.level.${level}`), { colour })),
  ];
}

/** Legend rows of a project layer: one per lifecycle stage. */
function projectLegend(stageColours) {
  return Object.entries(stageColours).map(([stage, colour]) => legendRow(label("stage", stage), { colour }));
}

/** The legend block of one layer (null for kinds without one). */
function layerLegend(layer, styles) {
  let rows = null;
  if (layer.kind === "facilities") rows = facilityLegend(layer.features || []);
  else if (layer.kind === "sensors") rows = sensorLegend(styles.ramp, styles.levels);
  else if (layer.kind === "projects") rows = projectLegend(styles.stageColours);
  if (!rows || !rows.length) return null;
  const block = Object.assign(document.createElement("div"), { className: "layer-legend" });
  block.append(...rows);
  return block;
}

/** An opacity slider (0-100 %) calling `onOpacity(fraction)` as it moves. */
function opacitySlider(value, onOpacity, testId) {
  const wrap = Object.assign(document.createElement("label"), { className: "opacity" });
  const input = Object.assign(document.createElement("input"), { type: "range", min: "0", max: "100", step: "5", value: String(Math.round(value * 100)) });
  input.dataset.testid = testId;
  input.title = t("layer.opacity");
  input.addEventListener("input", () => onOpacity(Number(input.value) / 100));
  wrap.append(Object.assign(document.createElement("span"), { textContent: t("layer.opacity") }), input);
  return wrap;
}

/** Add to each layer's <li> of `list` (made by panel.renderToggles with prefix "layer")
 * its opacity slider and legend. `layers` = Map id -> {kind, features, opacity};
 * `styles` = {stageColours, ramp(fraction), levels}; `onOpacity(id, fraction)`. */
export function decorateLayerTree(list, layers, styles, onOpacity) {
  for (const [id, layer] of layers) {
    const toggle = [...list.querySelectorAll("input[type=checkbox]")].find((el) => el.dataset.testid === `layer-${id}`);
    if (!toggle) continue;
    const item = toggle.closest("li");
    item.classList.add("layer-node");
    item.append(opacitySlider(layer.opacity ?? 1, (v) => onOpacity(id, v), `opacity-${id}`));
    const legend = layerLegend(layer, styles);
    if (legend) item.append(legend);
  }
}
