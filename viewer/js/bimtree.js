// bimtree.js: the BIM model's element tree in the BIM panel (DOM only): a zoom-to-model
// button, then storeys lowest first, each with its IFC classes and element counts.
// A storey click isolates it (again: all storeys); a class box hides or shows the class.

import { t } from "./i18n.js";

/** Chinese names of the common IFC classes (the raw class stays on hover). */
export const IFC_CLASS_ZH = {
  IfcWall: "墙", IfcWallStandardCase: "墙", IfcDoor: "门", IfcWindow: "窗", IfcSlab: "楼板",
  IfcRoof: "屋顶", IfcBeam: "梁", IfcColumn: "柱", IfcStair: "楼梯", IfcStairFlight: "梯段",
  IfcRailing: "栏杆", IfcCovering: "覆面", IfcSpace: "空间", IfcPlate: "板材", IfcMember: "杆件",
  IfcFooting: "基础", IfcCurtainWall: "幕墙", IfcBuildingElementProxy: "通用构件",
  IfcFurnishingElement: "家具", IfcFlowTerminal: "末端设备", IfcOpeningElement: "洞口",
};

/** The caption of a class: "墙 IfcWall" in Chinese, the class itself in English. */
function classCaption(ifcClass) {
  return t("bim.className", { zh: IFC_CLASS_ZH[ifcClass] || "", cls: ifcClass }).trim();
}

/** The tree of one model; `handlers` = {onZoom(), onStorey(name|null), onClass(name, visible)}. */
export class ElementTree {
  /** Bind to the container. */
  constructor(root, handlers) {
    this.root = root;
    this.handlers = handlers;
  }

  /** A storey row: its button (isolates it) and count. */
  storeyRow(node, state) {
    const button = Object.assign(document.createElement("button"), { type: "button", className: "tree-storey", textContent: node.name ?? t("bim.noStorey") });
    button.dataset.testid = `tree-storey-${node.name ?? ""}`;
    button.classList.toggle("active", state.storey !== null && state.storey === node.name);
    button.title = t("bim.isolateStorey");
    button.addEventListener("click", (event) => {
      event.preventDefault(); // a click in <summary> would also fold the storey
      if (node.name !== null) this.handlers.onStorey(state.storey === node.name ? null : node.name);
    });
    const count = Object.assign(document.createElement("span"), { className: "count", textContent: ` (${node.elements})` });
    const summary = document.createElement("summary");
    summary.append(button, count);
    return summary;
  }

  /** A class row: a box hiding/showing the class, its name and count in this storey. */
  classRow(item, state) {
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: !state.hiddenClasses.has(item.class) });
    box.addEventListener("change", () => this.handlers.onClass(item.class, box.checked));
    const text = document.createElement("span");
    text.textContent = `${classCaption(item.class)} (${item.elements})`;
    text.title = item.class;
    const label = document.createElement("label");
    label.append(box, text);
    const li = document.createElement("li");
    li.append(label);
    return li;
  }

  /** Draw `tree` ([{name, elements, classes: [{class, elements}]}], or null) for `state`. */
  show(tree, state) {
    const zoom = Object.assign(document.createElement("button"), { type: "button", id: "bimZoom", textContent: t("bim.zoomToModel") });
    zoom.addEventListener("click", () => this.handlers.onZoom());
    const list = document.createElement("ul");
    list.className = "bim-tree";
    for (const node of tree || []) {
      const details = document.createElement("details");
      details.open = state.storey === node.name;
      const classes = document.createElement("ul");
      classes.append(...node.classes.map((item) => this.classRow(item, state)));
      details.append(this.storeyRow(node, state), classes);
      const li = document.createElement("li");
      li.append(details);
      list.append(li);
    }
    const title = Object.assign(document.createElement("h4"), { textContent: t("bim.tree") });
    this.root.replaceChildren(zoom, ...(tree && tree.length ? [title, list] : []));
  }
}
