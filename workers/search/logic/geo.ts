/**
 * Geo search over a document's `_geo` field (`{ "lat": 48.85, "lng": 2.35 }`, numbers or
 * numeric strings), as in Meilisearch: the `_geoRadius(lat, lng, meters)` and
 * `_geoBoundingBox([lat, lng], [lat, lng])` filters (top-right corner, then bottom-left;
 * a box may cross the antimeridian) and the `_geoPoint(lat, lng):asc|desc` sort, whose
 * distance each hit reports as `_geoDistance` (meters, rounded).
 *
 * Distances are great-circle (haversine, mean Earth radius 6,371,008.8 m): exact for a
 * sphere, within 0.5 % of the ellipsoid. Cost: constant per document.
 */
export const EARTH_RADIUS_M = 6_371_008.8
export type LatLng = [number, number]

export const GEO_SORT = /^_geoPoint\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)$/

/** A latitude in degrees, or `fail` with Meilisearch's message. */
export function checkLatitude(text: string, fail: (message: string) => Error): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < -90 || value > 90)
    throw fail(`Bad latitude \`${text}\`. Latitude must be contained between -90 and 90 degrees`)
  return value
}

/** A longitude in degrees, or `fail` with Meilisearch's message. */
export function checkLongitude(text: string, fail: (message: string) => Error): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < -180 || value > 180)
    throw fail(`Bad longitude \`${text}\`. Longitude must be contained between -180 and 180 degrees`)
  return value
}

/** Great-circle distance in meters. */
export function haversine(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180
  const dLat = (b[0] - a[0]) * rad
  const dLng = (b[1] - a[1]) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLng / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** A document's `_geo` point, or undefined when it has none (or not a valid one). */
export function geoPoint(document: Record<string, unknown>): LatLng | undefined {
  const geo = document._geo
  if (geo === null || typeof geo !== 'object' || Array.isArray(geo)) return undefined
  const { lat, lng } = geo as { lat?: unknown; lng?: unknown }
  const toNumber = (value: unknown) =>
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : Number.NaN
  const point: LatLng = [toNumber(lat), toNumber(lng)]
  return Number.isFinite(point[0]) && Number.isFinite(point[1]) ? point : undefined
}

export function inRadius(document: Record<string, unknown>, center: LatLng, meters: number): boolean {
  const point = geoPoint(document)
  return point !== undefined && haversine(center, point) <= meters
}

export function inBox(document: Record<string, unknown>, topRight: LatLng, bottomLeft: LatLng): boolean {
  const point = geoPoint(document)
  if (!point) return false
  const [lat, lng] = point
  if (lat > topRight[0] || lat < bottomLeft[0]) return false
  const [west, east] = [bottomLeft[1], topRight[1]]
  return west <= east ? lng >= west && lng <= east : lng >= west || lng <= east
}
