// chart.js: a small line chart of one metric's history on a <canvas> (no library).

/** Points {t: ms, v: number, alarm} from history observations, sorted by time. */
export function historyPoints(observations) {
  return observations
    .map((o) => ({ t: Date.parse(o.time), v: Number(o.value), alarm: Boolean(o.alarm) }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
    .sort((a, b) => a.t - b.t);
}

/** Scale functions mapping time and value into the plot area of the canvas. */
function scales(points, width, height, pad) {
  const t0 = points[0].t, t1 = points[points.length - 1].t;
  let v0 = Math.min(...points.map((p) => p.v)), v1 = Math.max(...points.map((p) => p.v));
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  return {
    x: (t) => pad.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - pad.left - pad.right),
    y: (v) => height - pad.bottom - ((v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom),
    v0, v1, t0, t1,
  };
}

/** A short local time label "HH:MM". */
function timeLabel(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Draw the axes labels: value range on the left, time range underneath. */
function drawAxes(ctx, s, width, height, pad, title) {
  ctx.fillStyle = "#9cc3ec";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "left";
  ctx.fillText(title, pad.left, 12);
  ctx.fillText(String(Math.round(s.v1 * 100) / 100), 2, pad.top + 8);
  ctx.fillText(String(Math.round(s.v0 * 100) / 100), 2, height - pad.bottom);
  ctx.fillText(timeLabel(s.t0), pad.left, height - 4);
  ctx.textAlign = "right";
  ctx.fillText(timeLabel(s.t1), width - pad.right, height - 4);
  ctx.strokeStyle = "#ffffff33";
  ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
}

/** Draw `observations` as a line (alarm readings as red dots); returns the point count. */
export function drawHistory(canvas, observations, title = "") {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 40, right: 8, top: 18, bottom: 18 };
  ctx.clearRect(0, 0, width, height);
  const points = historyPoints(observations);
  if (points.length === 0) return 0;
  const s = scales(points, width, height, pad);
  drawAxes(ctx, s, width, height, pad, title);
  ctx.strokeStyle = "#36d1dc";
  ctx.lineWidth = 2;
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(s.x(p.t), s.y(p.v)) : ctx.moveTo(s.x(p.t), s.y(p.v))));
  ctx.stroke();
  ctx.fillStyle = "#ff3b3b";
  points.filter((p) => p.alarm).forEach((p) => ctx.fillRect(s.x(p.t) - 2, s.y(p.v) - 2, 4, 4));
  return points.length;
}
