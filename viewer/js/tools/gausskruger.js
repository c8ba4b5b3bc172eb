// tools/gausskruger.js: CGCS2000 lon/lat -> Gauss-Kruger (transverse Mercator) grid
// coordinates, with Krüger's series to 4th order in n (sub-millimetre inside a 3° zone;
// the zone's parameters come from /api/config "gauss_kruger", which the server reads
// from the configured EPSG code). Chinese convention: X = northing, Y = easting.

const RAD = Math.PI / 180;

/** Series coefficients of an ellipsoid (semi-major axis a, inverse flattening). */
function krugerSeries(a, inverseFlattening) {
  const f = 1 / inverseFlattening;
  const n = f / (2 - f);
  const n2 = n * n, n3 = n2 * n, n4 = n3 * n;
  return {
    A: (a / (1 + n)) * (1 + n2 / 4 + n4 / 64),
    alpha: [n / 2 - (2 * n2) / 3 + (5 * n3) / 16 + (41 * n4) / 180,
      (13 * n2) / 48 - (3 * n3) / 5 + (557 * n4) / 1440,
      (61 * n3) / 240 - (103 * n4) / 140,
      (49561 * n4) / 161280],
    e: Math.sqrt(f * (2 - f)),
  };
}

/** Northing/easting of lon/lat (degrees) in the zone `zone` (the /api/config object). */
export function toGaussKruger(lon, lat, zone) {
  const { A, alpha, e } = krugerSeries(zone.a, zone.inverse_flattening);
  const phi = lat * RAD, lambda = (lon - zone.central_meridian) * RAD;
  const s = Math.sin(phi);
  const t = Math.sinh(Math.atanh(s) - e * Math.atanh(e * s));
  const xi0 = Math.atan2(t, Math.cos(lambda));
  const eta0 = Math.atanh(Math.sin(lambda) / Math.sqrt(1 + t * t));
  let xi = xi0, eta = eta0;
  alpha.forEach((a, i) => {
    const j = 2 * (i + 1);
    xi += a * Math.sin(j * xi0) * Math.cosh(j * eta0);
    eta += a * Math.cos(j * xi0) * Math.sinh(j * eta0);
  });
  const k0 = zone.scale ?? 1;
  const origin = zone.latitude_of_origin ? toGaussKruger(zone.central_meridian, zone.latitude_of_origin, { ...zone, latitude_of_origin: 0, false_northing: 0 }).x : 0;
  return { x: zone.false_northing + k0 * A * xi - origin, y: zone.false_easting + k0 * A * eta };
}
