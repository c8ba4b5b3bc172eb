// timeline.js: the projects' milestones on a slider with playback, over the "as of" date
// field (which stays, with its hooks): each step is a day a project was planned,
// approved, started or completed; the last step is "now" (the recorded stages).
// Also: BIM models linked to a project follow its dates on the chosen day.

import { t, label } from "./i18n.js";
import { stageAt, featureName } from "./layers.js";

const Cesium = window.Cesium;
/** Milestone property -> the stage a project enters that day (layers.js stageAt order). */
const MILESTONE_STAGES = [["planned_date", "planned"], ["approved_date", "approved"], ["start_date", "under_construction"], ["completion_date", "completed"]];
/** Playback: one milestone per step. */
export const STEP_MS = 1200;

/** The milestones of project properties, by day: [{date, events: [{name, stage}]}], oldest first. */
export function milestonesOf(projects) {
  const days = new Map();
  for (const props of projects) {
    for (const [key, stage] of MILESTONE_STAGES) {
      const date = String(props[key] ?? "").slice(0, 10);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) continue;
      if (!days.has(date)) days.set(date, []);
      days.get(date).push({ name: featureName(props), stage });
    }
  }
  return [...days.keys()].sort().map((date) => ({ date, events: days.get(date) }));
}

/** The slider step of a date: the last milestone on or before it; "" is the last step (now). */
export function stepOf(milestones, isoDate) {
  if (!isoDate) return milestones.length;
  let step = 0;
  milestones.forEach((m, i) => { if (m.date <= isoDate) step = i; });
  return step;
}

/** The timeline control: slider, play/pause and the caption of the step shown. */
export class Timeline {
  /** Build into `root`; `onDate(isoDate)` is called when the slider picks a day ("" now). */
  constructor(root, onDate) {
    this.root = root;
    this.onDate = onDate;
    this.milestones = [];
    this.timer = null;
    this.slider = Object.assign(document.createElement("input"), { type: "range", id: "timelineSlider", min: "0", step: "1" });
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
    this.play = Object.assign(document.createElement("button"), { type: "button", id: "timelinePlay" });
    this.play.addEventListener("click", () => (this.timer ? this.pause() : this.start()));
    this.caption = Object.assign(document.createElement("div"), { id: "timelineCaption", className: "timeline-caption" });
    this.ticks = Object.assign(document.createElement("datalist"), { id: "timelineTicks" });
    this.slider.setAttribute("list", "timelineTicks");
    const row = Object.assign(document.createElement("div"), { className: "timeline-row" });
    row.append(this.play, this.slider);
    root.replaceChildren(row, this.ticks, this.caption);
  }

  /** Take the milestones of `projects` (property dicts); the slider keeps the date `isoDate`. */
  setProjects(projects, isoDate) {
    this.milestones = milestonesOf(projects);
    this.slider.max = String(this.milestones.length);
    this.ticks.replaceChildren(...[...this.milestones, null].map((_, i) => new Option("", String(i))));
    this.root.hidden = this.milestones.length === 0;
    this.sync(isoDate);
  }

  /** Move the slider to `isoDate` (the date field changed) without calling back. */
  sync(isoDate) {
    this.step = stepOf(this.milestones, isoDate);
    this.slider.value = String(this.step);
    this.date = isoDate || "";
    this.render();
  }

  /** Show step `i` (a milestone day, or now at the end) and tell `onDate`. */
  go(i) {
    this.step = Math.max(0, Math.min(this.milestones.length, i));
    this.slider.value = String(this.step);
    this.date = this.step < this.milestones.length ? this.milestones[this.step].date : "";
    this.render();
    this.onDate(this.date);
    this.root.dispatchEvent(new Event("change", { bubbles: true })); // view.js keeps the URL
  }

  /** Play from the current step (from the start when at now), one milestone per STEP_MS. */
  start() {
    if (this.step >= this.milestones.length) this.go(0);
    this.timer = setInterval(() => (this.step >= this.milestones.length ? this.pause() : this.go(this.step + 1)), STEP_MS);
    this.render();
  }

  /** Stop playback where it is. */
  pause() {
    clearInterval(this.timer);
    this.timer = null;
    this.render();
  }

  /** The caption (date and that day's milestones) and the play button, in the current language. */
  render() {
    this.play.textContent = this.timer ? "⏸" : "▶";
    this.play.title = t(this.timer ? "timeline.pause" : "timeline.play");
    const m = this.milestones[this.step];
    if (!this.date || !m) { this.caption.textContent = t("timeline.now"); return; }
    const events = m.date === this.date ? m.events.map((e) => `${e.name} ${label("stage", e.stage)}`).join(t("timeline.separator")) : "";
    this.caption.textContent = events ? `${this.date} · ${events}` : this.date;
  }
}

/** The project (properties) a BIM model belongs to: its bim_tileset link, else the project
 * whose lot holds the model's centre; null when none. */
export function projectOfModel(entry, projectEntities) {
  const linked = projectEntities.find((e) => e.cimtwin.properties.bim_tileset === entry.id);
  if (linked) return linked.cimtwin.properties;
  if (!Array.isArray(entry.bounds)) return null;
  const [w, s, e, n] = entry.bounds;
  const centre = Cesium.Cartesian3.fromDegrees((w + e) / 2, (s + n) / 2);
  const now = Cesium.JulianDate.now();
  const onLot = projectEntities.find((p) => p.polygon && insideRing(centre, p.polygon.hierarchy.getValue(now).positions));
  return onLot ? onLot.cimtwin.properties : null;
}

/** True when a point lies in a ring of Cartesians (lon/lat even-odd test). */
function insideRing(point, ring) {
  const c = Cesium.Cartographic.fromCartesian(point);
  const xy = ring.map((p) => Cesium.Cartographic.fromCartesian(p));
  let inside = false;
  for (let i = 0, j = xy.length - 1; i < xy.length; j = i++) {
    const [a, b] = [xy[i], xy[j]];
    if ((a.latitude > c.latitude) !== (b.latitude > c.latitude) && c.longitude < a.longitude + ((c.latitude - a.latitude) * (b.longitude - a.longitude)) / (b.latitude - a.latitude)) inside = !inside;
  }
  return inside;
}

/** A model's phase on `isoDate` from its project's stage: "unbuilt" (not started yet),
 * "building" (under construction: translucent) or null (as built / no date picked). */
export function phaseOn(projectProps, isoDate) {
  if (!projectProps || !isoDate) return null;
  const stage = stageAt(projectProps, isoDate);
  if (stage === "under_construction") return "building";
  return stage === "completed" ? null : "unbuilt";
}
