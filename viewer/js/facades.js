// facades.js: procedural facades and roofs for white models (tilesets of kind
// "buildings": the demo's and every `cimtwin import buildings` / citymodel tileset).
// A Cesium CustomShader draws window bands on walls (storeys 3.3 m, bays 3.6 m) and
// darkens roofs with a faint panel grid, from each fragment's model-space position and
// normal: no texture, no extra byte on the wire. The engine writes y-up glTF in a local
// east-north-up frame, so model y is height and the xz plane is the ground. Far away
// the pattern fades to its mean (no moire); a style's feature colour (metric colouring)
// still applies on top.

const Cesium = window.Cesium;

/** Storey height and bay width of the pattern, metres. */
export const STOREY_M = 3.3;
export const BAY_M = 3.6;

const VERTEX = `
void vertexMain(VertexInput vsInput, inout czm_modelVertexOutput vsOutput) {
  v_normalMC = vsInput.attributes.normalMC;
}`;

const FRAGMENT = `
void fragmentMain(FragmentInput fsInput, inout czm_modelMaterial material) {
  vec3 p = fsInput.attributes.positionMC;
  vec3 n = normalize(v_normalMC);
  if (abs(n.y) > 0.7) {
    vec2 q = p.xz / 6.0;
    vec2 w = fwidth(q);
    float edge = max(step(0.95, fract(q.x)), step(0.95, fract(q.y)));
    edge = mix(0.1, edge, clamp(1.0 - 4.0 * max(w.x, w.y), 0.0, 1.0));
    material.diffuse *= 0.8 - 0.08 * edge;
    return;
  }
  vec2 along = normalize(vec2(-n.z, n.x));
  float s = dot(p.xz, along) / u_bay;
  float h = p.y / u_storey;
  float fx = fract(s);
  float fy = fract(h);
  float window = step(0.16, fx) * step(fx, 0.84) * step(0.28, fy) * step(fy, 0.9);
  float detail = clamp(1.5 - 2.0 * max(fwidth(s), fwidth(h)), 0.0, 1.0);
  window = mix(0.42, window, detail);
  vec3 glass = vec3(0.13, 0.19, 0.27) + vec3(0.10, 0.12, 0.14) * fy;
  material.diffuse = mix(material.diffuse, glass, 0.8 * window);
  material.roughness = mix(material.roughness, 0.25, window);
}`;

let shared = null;

/** The facade shader, one per page (every white model uses the same). */
export function facadeShader() {
  if (!shared) {
    shared = new Cesium.CustomShader({
      mode: Cesium.CustomShaderMode.MODIFY_MATERIAL,
      uniforms: {
        u_storey: { type: Cesium.UniformType.FLOAT, value: STOREY_M },
        u_bay: { type: Cesium.UniformType.FLOAT, value: BAY_M },
      },
      varyings: { v_normalMC: Cesium.VaryingType.VEC3 },
      vertexShaderText: VERTEX,
      fragmentShaderText: FRAGMENT,
    });
  }
  return shared;
}

/** Give a tileset its facades when it is a white model (catalog kind "buildings"). */
export function applyFacades(tileset, entry) {
  if (entry && entry.kind === "buildings") tileset.customShader = facadeShader();
  return tileset;
}
