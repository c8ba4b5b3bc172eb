// icons.js: map pins drawn offline on a canvas (no image files, no icon font): a coloured
// round badge with a white pictogram per facility category, so a park, a police station
// and a bus station look different at a glance; and the count badge of a cluster.
// Pictograms are SVG path data in a 24 x 24 box, drawn through Path2D.

const SIZE = 32; // CSS pixels of a facility badge
const RATIO = 2; // drawn at twice the size, shown at SIZE: sharp on high-DPI screens

/** Pictograms: a list of [operation, SVG path] in a 24 x 24 box. "fill" paints white
 * (even-odd, so inner rings are holes), "cut" strokes in the badge colour on top. */
const GLYPHS = {
  tree: [["fill", "M12 2.5a6.2 6.2 0 0 0-6.2 6.2c0 2.7 1.7 5 4.2 5.9V21h4v-6.4c2.5-.9 4.2-3.2 4.2-5.9A6.2 6.2 0 0 0 12 2.5z"]],
  shield: [["fill", "M12 2l8 3v6c0 5-3.4 9.4-8 11-4.6-1.6-8-6-8-11V5z"], ["cut", "M8.5 12l2.5 2.5 4.5-5"]],
  bus: [["fill", "M6 3h12a2 2 0 0 1 2 2v12h-1v2.2a1 1 0 0 1-2 0V17H7v2.2a1 1 0 0 1-2 0V17H4V5a2 2 0 0 1 2-2zM6 6v5h12V6zM7.5 13a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 1 0 0-2.6zM16.5 13a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 1 0 0-2.6z"]],
  cap: [["fill", "M12 4L1 9l11 5 8-3.6V16h2V9zM5.5 13.2v3.4L12 20l6.5-3.4v-3.4L12 16.2z"]],
  cross: [["fill", "M9 3h6v6h6v6h-6v6H9v-6H3V9h6z"]],
  flame: [["fill", "M12 2c1.2 4 5.5 6 5.5 11.2a5.5 5.5 0 0 1-11 0c0-2.6 1.5-4.3 2.7-5.3 0 2 .9 3.3 2.1 3.5C11.3 8.5 10.6 5.5 12 2z"]],
  book: [["fill", "M2.5 5c3.2-1.2 6.3-1 9 1v14c-2.7-1.8-5.8-2-9-1zM21.5 5c-3.2-1.2-6.3-1-9 1v14c2.7-1.8 5.8-2 9-1z"]],
  house: [["fill", "M12 3l9.5 8.5H18.5V21h-4.5v-6h-4v6H5.5v-9.5H2.5z"]],
  heart: [["fill", "M12 21l-1.5-1.3C5 15 2 12.3 2 8.8 2 6 4.2 4 7 4c1.9 0 3.5 1 5 2.6C13.5 5 15.1 4 17 4c2.8 0 5 2 5 4.8 0 3.5-3 6.2-8.5 10.9z"]],
  ball: [["fill", "M12 2.5a9.5 9.5 0 1 0 0 19 9.5 9.5 0 1 0 0-19z"], ["cut", "M2.5 12h19M12 2.5v19M6 5.5c3.5 3.6 3.5 9.4 0 13M18 5.5c-3.5 3.6-3.5 9.4 0 13"]],
  note: [["fill", "M9 3v11.4A3.6 3.6 0 1 0 11 17.6V8h7V3z"]],
  columns: [["fill", "M12 2l10 5v2H2V7zM4 10h3v7H4zM10.5 10h3v7h-3zM17 10h3v7h-3zM2 18h20v3H2z"]],
  pagoda: [["fill", "M12 2l3.5 4H14v2.5h5l3 4h-2.5V21h-15v-8.5H2l3-4h5V6H8.5z"]],
  film: [["fill", "M4 4h16v16H4zM6 6v2.5h2V6zM6 10.8v2.4h2v-2.4zM6 15.5V18h2v-2.5zM16 6v2.5h2V6zM16 10.8v2.4h2v-2.4zM16 15.5V18h2v-2.5z"]],
  envelope: [["fill", "M2.5 5.5h19v13h-19z"], ["cut", "M3.5 6.5L12 13l8.5-6.5"]],
  capsule: [["fill", "M8.5 3.5a5 5 0 0 1 7.1 0l4.9 4.9a5 5 0 0 1-7.1 7.1l-4.9-4.9a5 5 0 0 1 0-7.1z M3.5 13.5a5 5 0 0 1 7.1 0l-7.1 7.1a5 5 0 0 1 0-7.1z"], ["cut", "M10 10l4-4"]],
  tooth: [["fill", "M7 3c1.8 0 3 .8 5 .8S15.2 3 17 3c2.6 0 4 2.2 4 4.8 0 3-1.3 4.6-2 7.4-.6 2.6-1 5.8-2.6 5.8-1.8 0-1.7-5-4.4-5s-2.6 5-4.4 5c-1.6 0-2-3.2-2.6-5.8C4.3 12.4 3 10.8 3 7.8 3 5.2 4.4 3 7 3z"]],
  cart: [["fill", "M2 3.5h3.2l.7 2.5H21l-2.4 8H8.2l.6 2H19v2H7.3L4 5.5H2zM9 19.5a1.5 1.5 0 1 0 0 .01zM17 19.5a1.5 1.5 0 1 0 0 .01z"]],
  scales: [["fill", "M11 3h2v15h4v3H7v-3h4z"], ["fill", "M4 7h16v1.6H4z"], ["fill", "M2 14l3-6 3 6a3 3 0 0 1-6 0zM16 14l3-6 3 6a3 3 0 0 1-6 0z"]],
  dot: [["fill", "M12 7a5 5 0 1 0 0 10 5 5 0 1 0 0-10z"]],
};

/** Facility categories (OSM amenity/leisure names as the demo and real layers use them):
 * their pictogram and badge colour. Related categories share a pictogram, never a colour. */
export const CATEGORY_STYLES = {
  park: { glyph: "tree", colour: "#2e9d4f" },
  police: { glyph: "shield", colour: "#1f4e9c" },
  bus_station: { glyph: "bus", colour: "#0b8fb3" },
  school: { glyph: "cap", colour: "#e08a00" },
  kindergarten: { glyph: "cap", colour: "#f0a830" },
  university: { glyph: "cap", colour: "#8a5a00" },
  college: { glyph: "cap", colour: "#a86b00" },
  hospital: { glyph: "cross", colour: "#d63031" },
  clinic: { glyph: "cross", colour: "#e05d7a" },
  doctors: { glyph: "cross", colour: "#c0487a" },
  pharmacy: { glyph: "capsule", colour: "#27ae60" },
  dentist: { glyph: "tooth", colour: "#5f8fd6" },
  fire_station: { glyph: "flame", colour: "#e8541e" },
  library: { glyph: "book", colour: "#8e44ad" },
  community_centre: { glyph: "house", colour: "#16a085" },
  elderly_care: { glyph: "heart", colour: "#c2185b" },
  social_facility: { glyph: "heart", colour: "#ad4e8a" },
  sports_centre: { glyph: "ball", colour: "#2d7dd2" },
  arts_centre: { glyph: "note", colour: "#9b59b6" },
  theatre: { glyph: "note", colour: "#7d3c98" },
  cinema: { glyph: "film", colour: "#34495e" },
  bank: { glyph: "columns", colour: "#b7950b" },
  courthouse: { glyph: "scales", colour: "#6d4c41" },
  public_building: { glyph: "columns", colour: "#607d8b" },
  place_of_worship: { glyph: "pagoda", colour: "#a0522d" },
  post_office: { glyph: "envelope", colour: "#2e7d32" },
  marketplace: { glyph: "cart", colour: "#d35400" },
};
/** Any category not listed above. */
export const GENERIC_STYLE = { glyph: "dot", colour: "#6c757d" };

const facilityCache = new Map();
const clusterCache = new Map();

/** The pictogram and colour of a category (the generic one when unknown). */
export function styleOf(category) {
  return CATEGORY_STYLES[category] || GENERIC_STYLE;
}

/** A square canvas of `size` CSS pixels (drawn at RATIO) and its 2D context. */
function newCanvas(size) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size * RATIO;
  const ctx = canvas.getContext("2d");
  ctx.scale(RATIO, RATIO);
  return { canvas, ctx };
}

/** A filled round badge with a white rim and a soft shadow (readable on any ground). */
function drawBadge(ctx, size, colour, inset = 2) {
  const r = size / 2 - inset;
  ctx.save();
  ctx.shadowColor = "rgba(0, 0, 0, 0.45)";
  ctx.shadowBlur = 3;
  ctx.beginPath();
  ctx.arc(size / 2, size / 2, r, 0, 2 * Math.PI);
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.restore();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
}

/** Draw a 24 x 24 pictogram centred in the badge at `scale`. */
function drawGlyph(ctx, size, glyph, colour) {
  const scale = (size * 0.62) / 24;
  ctx.save();
  ctx.translate(size / 2 - 12 * scale, size / 2 - 12 * scale);
  ctx.scale(scale, scale);
  for (const [operation, path] of GLYPHS[glyph] || GLYPHS.dot) {
    const shape = new Path2D(path);
    if (operation === "fill") {
      ctx.fillStyle = "#ffffff";
      ctx.fill(shape, "evenodd");
    } else {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.8;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.stroke(shape);
    }
  }
  ctx.restore();
}

/** The map pin of a facility category: a canvas, drawn once per category. */
export function facilityIcon(category) {
  const key = CATEGORY_STYLES[category] ? category : "";
  if (!facilityCache.has(key)) {
    const { glyph, colour } = styleOf(category);
    const { canvas, ctx } = newCanvas(SIZE);
    drawBadge(ctx, SIZE, colour);
    drawGlyph(ctx, SIZE, glyph, colour);
    canvas.dataset.glyph = glyph; // which pictogram (tests, legend)
    facilityCache.set(key, canvas);
  }
  return facilityCache.get(key);
}

/** The same pin as a PNG data URI (for <img> in the legend). */
export function facilityIconUrl(category) {
  return facilityIcon(category).toDataURL("image/png");
}

/** Size in CSS pixels Cesium should draw a pin at (the canvas is RATIO times larger). */
export const ICON_SIZE = SIZE;

/** The badge of a cluster of `count` points: a ring in `colour` with the count. */
export function clusterIcon(count, colour = "#1f6feb") {
  const text = count > 999 ? "999+" : String(count);
  const key = `${colour}|${text}`;
  if (!clusterCache.has(key)) {
    const size = text.length > 2 ? 40 : 34;
    const { canvas, ctx } = newCanvas(size);
    ctx.beginPath();
    ctx.arc(size / 2, size / 2, size / 2 - 1, 0, 2 * Math.PI);
    ctx.fillStyle = colour;
    ctx.globalAlpha = 0.35;
    ctx.fill();
    ctx.globalAlpha = 1;
    drawBadge(ctx, size, colour, 5); // inner disc with a white rim
    ctx.fillStyle = "#ffffff";
    ctx.font = "bold 14px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, size / 2, size / 2 + 1);
    canvas.dataset.size = String(size);
    clusterCache.set(key, canvas);
  }
  return clusterCache.get(key);
}
