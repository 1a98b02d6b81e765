/** CSV cells and lines after RFC 4180: a cell holding a comma, a double quote, CR or LF is quoted, quotes doubled; lines end in CRLF. */

/** A JSON value as one cell: strings as they are, null and absent as empty, numbers and booleans as JSON writes them, objects and arrays as their JSON. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
