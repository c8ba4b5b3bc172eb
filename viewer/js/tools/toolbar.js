// tools/toolbar.js: the analysis toolbar. One button per tool in the top bar's tool slot
// (#toolbarSlot, created beside the status when the page has none), the active tool's
// panel in #toolPanelSlot. One tool is active at a time; while it is, scene clicks go
// to it instead of the inspector. Each tool lives in its own module (createXxxTool).

import { t, onLanguageChange, translatePage } from "../i18n.js";
import { mergeToolStrings } from "./strings.js";
import { createMeasureTool } from "./measure.js";
import { createSectionTool } from "./section.js";
import { createSunTool } from "./sun.js";
import { createSightlineTool } from "./sightline.js";
import { createSkylineTool } from "./skyline.js";
import { createScreenshotTool } from "./screenshot.js";
import { createHeightCheckTool } from "./heightcheck.js";

const FACTORIES = [createMeasureTool, createSectionTool, createSunTool, createSightlineTool, createSkylineTool, createScreenshotTool, createHeightCheckTool];

/** The element with `id`, created inside `parent` (before `before`) when missing. */
function slot(id, parent, before = null) {
  let element = document.getElementById(id);
  if (!element) {
    element = document.createElement("div");
    element.id = id;
    element.className = "slot";
    parent.insertBefore(element, before);
  }
  return element;
}

/** The floating panel that holds the active tool's own panel. */
function buildPanelHost(container) {
  const host = document.createElement("section");
  host.id = "toolPanel";
  host.className = "panel tool-panel";
  host.hidden = true;
  host.innerHTML = `<button type="button" class="close" data-i18n-title="tools.close" title="${t("tools.close")}">×</button><h2></h2><div class="tool-body"></div>`;
  container.appendChild(host);
  return host;
}

/** Mount the toolbar; returns the controller main.js keeps as app.tools. */
export function mountTools(app, config = {}) {
  mergeToolStrings();
  const topbar = document.getElementById("topbar");
  const bar = slot("toolbarSlot", topbar, document.getElementById("status"));
  const host = buildPanelHost(slot("toolPanelSlot", document.body));
  const ctx = { app, viewer: app.viewer, config };
  const tools = new Map(FACTORIES.map((factory) => { const tool = factory(ctx); return [tool.id, tool]; }));
  const controller = { active: null, tools, get: (id) => tools.get(id)?.api };

  /** Make `id` the active tool (or none), swapping its panel in. */
  controller.activate = (id) => {
    const previous = controller.active && tools.get(controller.active);
    if (previous) previous.deactivate();
    controller.active = id && id !== controller.active ? id : null;
    bar.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b.dataset.tool === controller.active));
    host.hidden = !controller.active;
    if (!controller.active) return null;
    const tool = tools.get(controller.active);
    host.querySelector("h2").dataset.i18n = tool.titleKey;
    host.querySelector("h2").textContent = t(tool.titleKey);
    host.querySelector(".tool-body").replaceChildren(tool.panel);
    tool.activate();
    return tool.api;
  };
  /** A scene click: the active tool takes it (true), or it is the inspector's (false). */
  controller.handleClick = (position) => {
    const tool = controller.active && tools.get(controller.active);
    if (!tool || !tool.onClick) return false;
    tool.onClick(position);
    return true;
  };

  for (const tool of tools.values()) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.tool = tool.id;
    button.dataset.i18n = tool.titleKey;
    button.textContent = t(tool.titleKey);
    button.addEventListener("click", () => controller.activate(tool.id));
    bar.appendChild(button);
  }
  host.querySelector(".close").addEventListener("click", () => controller.activate(null));
  onLanguageChange(() => { for (const tool of tools.values()) if (tool.refresh) tool.refresh(); });
  translatePage(host);
  return controller;
}
