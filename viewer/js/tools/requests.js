// tools/requests.js: the one tools module that knows the server's analysis URLs
// (/api/v1/analysis/..., docs/tools.md). Answers {ok, status, body}; a failure is logged as
// a console warning (like api.js) and its problem detail returned for the tool to show.

import { authHeaders } from "../api.js";

/** GET /api/v1/analysis/<path>?<params> as JSON. */
async function getAnalysis(path, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const url = `/api/v1/analysis/${path}?${query}`;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) console.warn(`cimtwin: ${url} answered ${response.status}: ${body.detail || ""}`);
    return { ok: response.ok, status: response.status, body };
  } catch (error) {
    console.warn(`cimtwin: ${url} failed: ${error}`);
    return { ok: false, status: 0, body: { detail: String(error) } };
  }
}

/** The height check of a BIM tileset: limit (m), optional ground elevation (m). */
export function fetchHeightCheck(tileset, limitM, groundM) {
  return getAnalysis("height-check", { tileset, limit_m: limitM, ground_m: groundM });
}

/** The floor-area estimate of a BIM tileset (FAR and site area from its project). */
export function fetchFloorArea(tileset) {
  return getAnalysis("floor-area", { tileset });
}

/** Each storey's lowest and highest point in the tileset's own frame (storey cut). */
export function fetchStoreyLevels(tileset) {
  return getAnalysis("storeys", { tileset });
}
