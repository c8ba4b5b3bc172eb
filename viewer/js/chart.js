// chart.js: a small line chart of one metric's history on a <canvas> (no library):
// the mean line, the min-max band of server buckets, threshold lines and alarm marks.

/** Points {t: ms, v, lo, hi, alarm} from history observations (raw or bucketed), by time. */
export function historyPoints(observations) {
  return observations
    .map((o) => ({ t: Date.parse(o.time), v: Number(o.value), lo: Number(o.min ?? o.value), hi: Number(o.max ?? o.value), alarm: Boolean(o.alarm) }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
    .sort((a, b) => a.t - b.t);
}

/** The threshold levels worth a line: [{level, value}] of warning and alarm. */
export function thresholdLines(thresholds) {
  return ["warning", "alarm"].filter((k) => thresholds && thresholds[k] !== null && thresholds[k] !== undefined && Number.isFinite(Number(thresholds[k])))
    .map((level) => ({ level, value: Number(thresholds[level]) }));
}

/** Scale functions mapping time and value into the plot area of the canvas. The value
 * range holds the points' band and the threshold lines; the time range is `from`..`to`
 * when given (so 1 h, 24 h and 7 d read as such), else the points' own. */
function scales(points, lines, width, height, pad, range) {
  const t0 = range.from ?? points[0].t, t1 = range.to ?? points[points.length - 1].t;
  const values = points.flatMap((p) => [p.lo, p.hi, p.v]).concat(lines.map((l) => l.value)).filter(Number.isFinite);
  let v0 = Math.min(...values), v1 = Math.max(...values);
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  return {
    x: (t) => pad.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - pad.left - pad.right),
    y: (v) => height - pad.bottom - ((v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom),
    v0, v1, t0, t1,
  };
}

/** A short local time label: "HH:MM", with the day "MM-DD HH:MM" over more than a day. */
function timeLabel(ms, long) {
  const d = new Date(ms), p = (n) => String(n).padStart(2, "0");
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return long ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
}

/** Draw the axes labels: value range (with unit) on the left, time range underneath. */
function drawAxes(ctx, s, width, height, pad, title, unit) {
  const long = s.t1 - s.t0 > 26 * 3600 * 1000;
  ctx.fillStyle = "#9cc3ec";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "left";
  ctx.fillText(unit ? `${title} (${unit})` : title, pad.left, 12);
  ctx.fillText(String(Math.round(s.v1 * 100) / 100), 2, pad.top + 8);
  ctx.fillText(String(Math.round(s.v0 * 100) / 100), 2, height - pad.bottom);
  ctx.fillText(timeLabel(s.t0, long), pad.left, height - 4);
  ctx.textAlign = "right";
  ctx.fillText(timeLabel(s.t1, long), width - pad.right, height - 4);
  ctx.strokeStyle = "#ffffff33";
  ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
}

const LINE_COLOURS = { warning: "#ffb020", alarm: "#ff3b3b" };

/** Dashed horizontal lines at the warning and alarm thresholds, labelled. */
function drawThresholds(ctx, s, lines, width, pad, names) {
  ctx.setLineDash([4, 3]);
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  for (const line of lines) {
    ctx.strokeStyle = ctx.fillStyle = LINE_COLOURS[line.level];
    ctx.beginPath();
    ctx.moveTo(pad.left, s.y(line.value));
    ctx.lineTo(width - pad.right, s.y(line.value));
    ctx.stroke();
    ctx.fillText(`${names[line.level] || line.level} ${line.value}`, width - pad.right - 2, s.y(line.value) - 2);
  }
  ctx.setLineDash([]);
}

/** Red ticks at the top and bottom of the plot where alarms were raised (times in ms). */
function drawAlarmMarks(ctx, s, marks, height, pad) {
  ctx.fillStyle = "#ff3b3b";
  for (const t of marks.filter((m) => m >= s.t0 && m <= s.t1)) {
    const x = s.x(t);
    ctx.beginPath();
    ctx.moveTo(x - 4, pad.top); ctx.lineTo(x + 4, pad.top); ctx.lineTo(x, pad.top + 7);
    ctx.fill();
    ctx.fillRect(x - 0.5, pad.top, 1, height - pad.top - pad.bottom);
  }
}

/** The mean line over the min-max band of the buckets. */
function drawSeries(ctx, s, points) {
  if (points.some((p) => p.hi > p.lo)) {
    ctx.fillStyle = "#36d1dc33";
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(s.x(p.t), s.y(p.hi)) : ctx.moveTo(s.x(p.t), s.y(p.hi))));
    [...points].reverse().forEach((p) => ctx.lineTo(s.x(p.t), s.y(p.lo)));
    ctx.fill();
  }
  ctx.strokeStyle = "#36d1dc";
  ctx.lineWidth = 2;
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(s.x(p.t), s.y(p.v)) : ctx.moveTo(s.x(p.t), s.y(p.v))));
  ctx.stroke();
  ctx.fillStyle = "#ff3b3b";
  points.filter((p) => p.alarm).forEach((p) => ctx.fillRect(s.x(p.t) - 2, s.y(p.v) - 2, 4, 4));
}

/** Draw `observations` as a line; `options`: {unit, thresholds: {warning, alarm},
 * alarmTimes: [ms], from, to (ms), names: {warning, alarm}}. Returns the point count. */
export function drawHistory(canvas, observations, title = "", options = {}) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 40, right: 8, top: 18, bottom: 18 };
  ctx.clearRect(0, 0, width, height);
  const points = historyPoints(observations);
  if (points.length === 0) return 0;
  const lines = thresholdLines(options.thresholds);
  const s = scales(points, lines, width, height, pad, { from: options.from, to: options.to });
  drawAxes(ctx, s, width, height, pad, title, options.unit);
  drawThresholds(ctx, s, lines, width, pad, options.names || {});
  drawAlarmMarks(ctx, s, options.alarmTimes || [], height, pad);
  drawSeries(ctx, s, points);
  return points.length;
}
