/** Column-aligned text tables for people; `--json` output skips this entirely. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === undefined ? '' : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
      .join('')
      .trimEnd();
  return [line(headers.map((h) => h)), ...cells.map(line)].join('\n') + '\n';
}

/** `key: value` lines with the keys padded to one width. */
export function formatKeyValues(entries: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  const w = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(w)} : ${v === undefined ? '' : String(v)}`).join('\n') + '\n';
}

export function formatTime(ms: number): string {
  if (!ms || ms <= 0) return '-';
  const d = new Date(ms);
  const p = (n: number, l = 2): string => String(n).padStart(l, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** JSON for scripts: Maps become objects, Buffers become UTF-8 text. */
export function toJson(v: unknown): string {
  return (
    JSON.stringify(
      v,
      (_k, x: unknown) => {
        if (x instanceof Map) return Object.fromEntries(x);
        if (x instanceof Set) return [...x];
        if (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
          return Buffer.from((x as { data: number[] }).data).toString('utf8');
        }
        return x;
      },
      2,
    ) + '\n'
  );
}
