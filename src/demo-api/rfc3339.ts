/** RFC 3339 timestamps as the demo API accepts them in query parameters. */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 timestamp to epoch µs (sub-µs digits dropped); null when invalid. */
export function parseRfc3339Micros(value: string): number | null {
  // An unencoded "+02:00" in a query string arrives as " 02:00".
  const m = RFC3339.exec(value.replace(/ (\d{2}:\d{2})$/, "+$1"));
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  // Years before 1000 are refused: Date.UTC maps 0..99 to 1900..1999.
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) return null; // 2026-02-30 and the like
  let offsetMin = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const frac = Number((m[7] ?? "").padEnd(6, "0").slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + frac;
}
