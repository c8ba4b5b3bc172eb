// tools/sun.js: sunlight and shadows. A date (大寒 / 冬至 presets) and a time range in
// Beijing time drive Cesium's clock; shadows animate over the range. Sunlit hours at a
// picked point: the sun's direction (Cesium's Simon 1994 positions, as the renderer's
// shadows use) sampled over the standard window in true solar time (大寒 08-16,
// 冬至 09-15), each sample tested for occlusion by what an eye at the point sees in the
// sun's direction (tools/eyeview.js: depth of a rendered view from the point).

import { t } from "../i18n.js";
import { surfacePoint, lonLatHeight, toolLayer, addPoint, addLabel, withoutOverlaysAsync, raised } from "./scenepick.js";
import { withEyeView, headingPitchOf, viewsFor } from "./eyeview.js";

const Cesium = window.Cesium;
const BEIJING_OFFSET_H = 8;
/** Standard days: solar longitude of the term and the window in true solar time (h). */
const TERMS = { dahan: { longitude: 300, window: [8, 16] }, dongzhi: { longitude: 270, window: [9, 15] } };

/** Day of year based angle and the equation of time in minutes (NOAA approximation). */
function equationOfTimeMin(date) {
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  const gamma = (2 * Math.PI / 365) * ((date.getTime() - start) / 86400000);
  return 229.18 * (0.000075 + 0.001868 * Math.cos(gamma) - 0.032077 * Math.sin(gamma) - 0.014615 * Math.cos(2 * gamma) - 0.040849 * Math.sin(2 * gamma));
}

/** The sun's apparent ecliptic longitude (degrees) at a JS Date (NOAA formulas). */
function solarLongitude(date) {
  const jc = (date.getTime() / 86400000 + 2440587.5 - 2451545) / 36525;
  const l0 = 280.46646 + jc * (36000.76983 + jc * 0.0003032);
  const m = Cesium.Math.toRadians(357.52911 + jc * 35999.05029);
  const c = Math.sin(m) * (1.914602 - jc * 0.004817) + Math.sin(2 * m) * 0.019993 + Math.sin(3 * m) * 0.000289;
  return ((l0 + c - 0.00569) % 360 + 360) % 360;
}

/** ISO date (Beijing) of the solar term with solar longitude `longitude` in `year`
 * (大寒 300°, 冬至 270°): the day the longitude is crossed, interpolated between noons. */
export function solarTermDate(year, longitude) {
  for (let day = 0; day < 366; day++) {
    const noon = Date.UTC(year, 0, 1 + day, 12 - BEIJING_OFFSET_H);
    const a = solarLongitude(new Date(noon)), b = solarLongitude(new Date(noon + 86400000));
    if (a < longitude && b >= longitude) {
      const when = noon + ((longitude - a) / (b - a)) * 86400000 + BEIJING_OFFSET_H * 3600000;
      return new Date(when).toISOString().slice(0, 10);
    }
  }
  return `${year}-01-20`;
}

/** UTC instant of a true-solar-time hour on an ISO date at longitude `lon`. */
export function trueSolarToUtc(isoDate, hour, lon) {
  const guess = new Date(`${isoDate}T00:00:00Z`);
  const minutes = hour * 60 - 4 * lon - equationOfTimeMin(new Date(guess.getTime() + hour * 3600000));
  return new Date(guess.getTime() + minutes * 60000);
}

/** Unit vector from `point` to the sun at a JulianDate, in Earth-fixed coordinates. */
export function sunDirection(julian, point) {
  const toFixed = Cesium.Transforms.computeIcrfToFixedMatrix(julian, new Cesium.Matrix3()) ?? Cesium.Transforms.computeTemeToPseudoFixedMatrix(julian, new Cesium.Matrix3());
  const inertial = Cesium.Simon1994PlanetaryPositions.computeSunPositionInEarthInertialFrame(julian, new Cesium.Cartesian3());
  const sun = Cesium.Matrix3.multiplyByVector(toFixed, inertial, new Cesium.Cartesian3());
  return Cesium.Cartesian3.normalize(Cesium.Cartesian3.subtract(sun, point, sun), sun);
}

/** Sunlit hours at `point` on `isoDate` over the true-solar window [from, to] (hours):
 * one sample in the middle of each `stepMin` interval; a sample is sunlit when the sun
 * is above the horizon and the eye (0.2 m above the point) sees sky in its direction. */
export async function sunlitHours(viewer, tilesets, point, isoDate, window, stepMin = 5) {
  const { lon } = lonLatHeight(point);
  const start = trueSolarToUtc(isoDate, window[0], lon), end = trueSolarToUtc(isoDate, window[1], lon);
  const eye = raised(viewer.scene, point, 0.2);
  const samples = [];
  for (let tMs = start.getTime() + stepMin * 30000; tMs < end.getTime(); tMs += stepMin * 60000) {
    const direction = sunDirection(Cesium.JulianDate.fromDate(new Date(tMs)), eye);
    samples.push({ utc: new Date(tMs).toISOString(), direction, ...headingPitchOf(eye, direction), lit: false });
  }
  const up = samples.filter((s) => s.pitch > 0);
  await withoutOverlaysAsync(viewer, async () => {
    for (const view of viewsFor(up)) {
      await withEyeView(viewer, tilesets, eye, view.heading, view.pitch, (look) => view.items.forEach((s) => {
        const seen = look(s.direction);
        s.lit = seen.onScreen && !seen.surface;
      }));
    }
  });
  const hours = (samples.filter((s) => s.lit).length * stepMin) / 60;
  return { hours, samples: samples.map(({ utc, heading, pitch, lit }) => ({ utc, azimuth: heading, elevation: pitch, lit })), step_min: stepMin, window, start_utc: start.toISOString(), end_utc: end.toISOString(), point: lonLatHeight(point), date: isoDate };
}

/** Beijing time "HH:MM" of a JulianDate. */
function beijingTime(julian) {
  return new Date(Cesium.JulianDate.toDate(julian).getTime() + BEIJING_OFFSET_H * 3600000).toISOString().slice(11, 16);
}

/** The panel: date with presets, Beijing time range, play, pick, result. */
function buildPanel(year) {
  const panel = document.createElement("div");
  panel.className = "tool-sun";
  panel.innerHTML = `<label><span data-i18n="sun.date">${t("sun.date")}</span><input type="date" class="date" value="${solarTermDate(year, 300)}"></label>
    <button type="button" class="dahan" data-i18n="sun.dahan">${t("sun.dahan")}</button> <button type="button" class="dongzhi" data-i18n="sun.dongzhi">${t("sun.dongzhi")}</button>
    <label><span data-i18n="sun.start">${t("sun.start")}</span><input type="time" class="start" value="08:00"></label>
    <label><span data-i18n="sun.end">${t("sun.end")}</span><input type="time" class="end" value="16:00"></label>
    <p><span data-i18n="sun.now">${t("sun.now")}</span>: <output class="now"></output></p>
    <button type="button" class="play" data-i18n="sun.play">${t("sun.play")}</button> <button type="button" class="stop" data-i18n="sun.stop">${t("sun.stop")}</button>
    <p class="hint" data-i18n="sun.pickPoint">${t("sun.pickPoint")}</p>
    <p><span data-i18n="sun.window">${t("sun.window")}</span>: <output class="window">08:00–16:00</output></p>
    <p><span data-i18n="sun.hours">${t("sun.hours")}</span>: <output class="hours"></output></p>`;
  return panel;
}

/** The sunlight tool (see the module comment). */
export function createSunTool({ app, viewer }) {
  const year = new Date().getFullYear();
  const panel = buildPanel(year);
  const layer = toolLayer(viewer, "tools-sun");
  const field = (name) => panel.querySelector(`.${name}`);
  const state = { window: TERMS.dahan.window, last: null, tick: null };
  /** The clock range of the chosen date and Beijing start/end times. */
  const clockRange = () => {
    const at = (hhmm) => Cesium.JulianDate.fromDate(new Date(`${field("date").value}T${hhmm}:00+08:00`));
    return [at(field("start").value || "08:00"), at(field("end").value || "16:00")];
  };
  const setTime = () => {
    const [start, stop] = clockRange();
    Object.assign(viewer.clock, { startTime: start, stopTime: stop, currentTime: start.clone(), clockRange: Cesium.ClockRange.LOOP_STOP });
    field("now").textContent = beijingTime(viewer.clock.currentTime);
  };
  const preset = (name) => {
    field("date").value = solarTermDate(year, TERMS[name].longitude);
    state.window = TERMS[name].window;
    const hh = (h) => `${String(h).padStart(2, "0")}:00`;
    [field("start").value, field("end").value] = state.window.map(hh);
    field("window").textContent = `${hh(state.window[0])}–${hh(state.window[1])}`;
    setTime();
  };
  const play = (on) => {
    viewer.shadows = true;
    viewer.clock.multiplier = on ? 900 : 1;
    viewer.clock.shouldAnimate = on;
  };
  /** Pick a point and report its sunlit hours for the date. */
  const analyse = async (position, stepMin = 5) => {
    const point = surfacePoint(viewer, position);
    if (!point) return null;
    field("hours").textContent = "…";
    const result = await sunlitHours(viewer, app.tilesets.values(), point, field("date").value, state.window, stepMin);
    state.last = result;
    const hh = (h) => `${String(h).padStart(2, "0")}:00`;
    const text = t("sun.hoursValue", { hours: result.hours.toFixed(2), from: hh(state.window[0]), to: hh(state.window[1]), step: stepMin });
    field("hours").textContent = text;
    layer.entities.removeAll();
    addPoint(layer, point, Cesium.Color.GOLD);
    addLabel(layer, point, `${t("sun.hours")} ${result.hours.toFixed(2)} h`);
    return result;
  };
  field("dahan").addEventListener("click", () => preset("dahan"));
  field("dongzhi").addEventListener("click", () => preset("dongzhi"));
  ["date", "start", "end"].forEach((name) => field(name).addEventListener("change", setTime));
  field("play").addEventListener("click", () => play(true));
  field("stop").addEventListener("click", () => play(false));
  return {
    id: "sun", titleKey: "tools.sun", panel,
    onClick: (position) => analyse(position),
    activate: () => {
      setTime();
      viewer.shadows = true;
      state.tick = viewer.clock.onTick.addEventListener((clock) => (field("now").textContent = beijingTime(clock.currentTime)));
    },
    deactivate: () => { play(false); viewer.shadows = false; if (state.tick) state.tick(); layer.entities.removeAll(); },
    api: {
      preset: (name) => { preset(name); return field("date").value; },
      setDate: (iso) => { field("date").value = iso; setTime(); },
      analyseAt: (x, y, stepMin = 5) => analyse({ x, y }, stepMin),
      play, last: () => state.last,
      clock: () => ({ start: Cesium.JulianDate.toIso8601(viewer.clock.startTime), stop: Cesium.JulianDate.toIso8601(viewer.clock.stopTime), now: beijingTime(viewer.clock.currentTime), shadows: viewer.shadows, animating: viewer.clock.shouldAnimate }),
    },
  };
}
