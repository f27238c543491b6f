/**
 * A small SVG line-chart writer for the scale curves: one x axis (logarithmic when the x values span
 * two decades or more), a left y axis and an optional right y axis, each with its own series,
 * nice round ticks, axis labels, a title and a legend. No dependencies; the output is plain SVG 1.1.
 */

export interface Series {
  name: string;
  /** One value per x; NaN or undefined leaves a gap. */
  values: ReadonlyArray<number | undefined>;
}

export interface Axis {
  label: string;
  series: Series[];
  /** Logarithmic y (positive values only). */
  log?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  x: readonly number[];
  /** Tick labels for the x values (defaults to a compact form of each value). */
  xTickLabels?: readonly string[];
  /** Force the x scale; by default log when max/min >= 100. */
  logX?: boolean;
  left: Axis;
  right?: Axis;
  width?: number;
  height?: number;
}

/** The plot area inside the margins, in SVG user units. */
export interface PlotArea {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

const PALETTE_LEFT = ['#1f77b4', '#2ca02c', '#17becf', '#9467bd'];
const PALETTE_RIGHT = ['#d62728', '#ff7f0e', '#8c564b', '#e377c2'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A compact label: 1.5k, 20M, 0.25, 256. */
export function compact(v: number): string {
  const a = Math.abs(v);
  const trim = (n: number): string => String(Number(n.toPrecision(3)));
  if (a >= 1e9) return trim(v / 1e9) + 'G';
  if (a >= 1e6) return trim(v / 1e6) + 'M';
  if (a >= 1e4) return trim(v / 1e3) + 'k';
  return trim(v);
}

/** Round ticks covering [lo, hi] (about `count` of them), steps of 1, 2 or 5 × 10^n. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi <= lo) hi = lo === 0 ? 1 : lo + Math.abs(lo);
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step) * step;
  const out: number[] = [];
  for (let v = first; v < hi + step * 0.5 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

/** Powers of ten covering [lo, hi] (lo > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const out: number[] = [];
  for (let e = a; e <= Math.max(b, a + 1); e++) out.push(10 ** e);
  return out;
}

interface Scale {
  map(v: number): number;
  ticks: number[];
}

function finite(values: Iterable<number | undefined>): number[] {
  const out: number[] = [];
  for (const v of values) if (v !== undefined && Number.isFinite(v)) out.push(v);
  return out;
}

function yScale(axis: Axis, area: PlotArea): Scale {
  const vals = finite(axis.series.flatMap((s) => s.values));
  if (axis.log) {
    const pos = vals.filter((v) => v > 0);
    const ticks = logTicks(pos.length ? Math.min(...pos) : 1, pos.length ? Math.max(...pos) : 10);
    const l0 = Math.log10(ticks[0]!);
    const l1 = Math.log10(ticks[ticks.length - 1]!);
    return { ticks, map: (v) => area.y1 - ((Math.log10(Math.max(v, ticks[0]!)) - l0) / (l1 - l0)) * (area.y1 - area.y0) };
  }
  const ticks = niceTicks(Math.min(0, ...vals), vals.length ? Math.max(...vals) : 1);
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  return { ticks, map: (v) => area.y1 - ((v - lo) / (hi - lo || 1)) * (area.y1 - area.y0) };
}

function xScale(spec: ChartSpec, area: PlotArea): Scale & { log: boolean } {
  const xs = finite(spec.x);
  const lo = xs.length ? Math.min(...xs) : 0;
  const hi = xs.length ? Math.max(...xs) : 1;
  const log = spec.logX ?? (lo > 0 && hi / lo >= 100);
  if (log) {
    const l0 = Math.log10(lo);
    const l1 = Math.log10(hi);
    const span = l1 - l0 || 1;
    return { log, ticks: [...spec.x], map: (v) => area.x0 + ((Math.log10(v) - l0) / span) * (area.x1 - area.x0) };
  }
  const pad = hi === lo ? 1 : 0;
  return { log, ticks: [...spec.x], map: (v) => area.x0 + ((v - lo) / (hi - lo + pad)) * (area.x1 - area.x0) };
}

/** The plot area of a chart of this spec (exported for tests). */
export function plotArea(spec: ChartSpec): PlotArea {
  const w = spec.width ?? 720;
  const h = spec.height ?? 400;
  return { x0: 80, x1: w - (spec.right ? 80 : 30), y0: 50, y1: h - 90 };
}

/** Renders the chart as an SVG document. */
export function renderChart(spec: ChartSpec): string {
  const w = spec.width ?? 720;
  // The legend goes under the x label, wrapped into rows that fit the width; the picture grows by its extra rows.
  const entries = [
    ...spec.left.series.map((s, i) => ({ name: s.name, color: PALETTE_LEFT[i % PALETTE_LEFT.length]!, dashed: false })),
    ...(spec.right?.series ?? []).map((s, i) => ({ name: s.name, color: PALETTE_RIGHT[i % PALETTE_RIGHT.length]!, dashed: true })),
  ].map((e) => ({ ...e, text: e.name + (spec.right ? (e.dashed ? ' (right)' : ' (left)') : '') }));
  const legendRows: { x: number; e: (typeof entries)[number] }[][] = [[]];
  let cursor = 80;
  for (const e of entries) {
    const width = 40 + e.text.length * 6.5;
    if (cursor + width > w - 10 && legendRows[legendRows.length - 1]!.length > 0) {
      legendRows.push([]);
      cursor = 80;
    }
    legendRows[legendRows.length - 1]!.push({ x: cursor, e });
    cursor += width;
  }
  const h = (spec.height ?? 400) + (legendRows.length - 1) * 18;
  const area = plotArea(spec);
  const xs = xScale(spec, area);
  const left = yScale(spec.left, area);
  const right = spec.right ? yScale(spec.right, area) : undefined;
  const f = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`);
  out.push(`<text x="${w / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  // grid + left ticks
  for (const t of left.ticks) {
    const y = left.map(t);
    out.push(`<line x1="${area.x0}" y1="${f(y)}" x2="${area.x1}" y2="${f(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${area.x0 - 6}" y="${f(y + 4)}" text-anchor="end">${escapeXml(compact(t))}</text>`);
  }
  if (right) {
    for (const t of right.ticks) {
      const y = right.map(t);
      out.push(`<text x="${area.x1 + 6}" y="${f(y + 4)}" text-anchor="start" fill="${PALETTE_RIGHT[0]}">${escapeXml(compact(t))}</text>`);
    }
  }
  spec.x.forEach((v, i) => {
    const x = xs.map(v);
    out.push(`<line x1="${f(x)}" y1="${area.y0}" x2="${f(x)}" y2="${area.y1}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${f(x)}" y1="${area.y1}" x2="${f(x)}" y2="${area.y1 + 5}" stroke="#333"/>`);
    out.push(`<text x="${f(x)}" y="${area.y1 + 18}" text-anchor="middle">${escapeXml(spec.xTickLabels?.[i] ?? compact(v))}</text>`);
  });
  // axes
  out.push(`<line x1="${area.x0}" y1="${area.y1}" x2="${area.x1}" y2="${area.y1}" stroke="#333"/>`);
  out.push(`<line x1="${area.x0}" y1="${area.y0}" x2="${area.x0}" y2="${area.y1}" stroke="#333"/>`);
  if (right) out.push(`<line x1="${area.x1}" y1="${area.y0}" x2="${area.x1}" y2="${area.y1}" stroke="#333"/>`);
  const xl = spec.xLabel + (xs.log ? ' (log scale)' : '');
  out.push(`<text x="${(area.x0 + area.x1) / 2}" y="${area.y1 + 38}" text-anchor="middle">${escapeXml(xl)}</text>`);
  const ly = (area.y0 + area.y1) / 2;
  out.push(
    `<text x="18" y="${ly}" text-anchor="middle" transform="rotate(-90 18 ${ly})">${escapeXml(spec.left.label + (spec.left.log ? ' (log)' : ''))}</text>`,
  );
  if (right && spec.right) {
    const rx = w - 14;
    out.push(
      `<text x="${rx}" y="${ly}" text-anchor="middle" fill="${PALETTE_RIGHT[0]}" transform="rotate(-90 ${rx} ${ly})">${escapeXml(spec.right.label + (spec.right.log ? ' (log)' : ''))}</text>`,
    );
  }
  // series
  const draw = (axis: Axis, scale: Scale, palette: string[], dashed: boolean): void => {
    axis.series.forEach((s, si) => {
      const color = palette[si % palette.length]!;
      let path = '';
      let pen = false;
      spec.x.forEach((xv, i) => {
        const v = s.values[i];
        if (v === undefined || !Number.isFinite(v) || (axis.log && v <= 0)) {
          pen = false;
          return;
        }
        path += `${pen ? 'L' : 'M'}${f(xs.map(xv))},${f(scale.map(v))} `;
        pen = true;
        out.push(
          `<circle cx="${f(xs.map(xv))}" cy="${f(scale.map(v))}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: ${compact(v)}`)}</title></circle>`,
        );
      });
      if (path !== '') out.push(`<path d="${path.trim()}" fill="none" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    });
  };
  draw(spec.left, left, PALETTE_LEFT, false);
  if (right && spec.right) draw(spec.right, right, PALETTE_RIGHT, true);
  // legend, below the x label
  legendRows.forEach((row, ri) => {
    const y = (spec.height ?? 400) - 22 + ri * 18;
    for (const { x, e } of row) {
      out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${e.color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      out.push(`<text x="${x + 27}" y="${y}">${escapeXml(e.text)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
