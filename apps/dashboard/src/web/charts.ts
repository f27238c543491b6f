// Time-series charts drawn with uPlot (served by the console from its node_modules under
// vendor/uplot/, loaded on first use): a card that fetches one /api/charts/... answer and draws it
// once the card is on the page, redrawing at the card's width when that changes.
import type uPlot from 'uplot';
import { api, errorBox, h, mount } from './dom.js';
import type { ChartView } from './views.js';

type UPlotCtor = typeof uPlot;

const COLORS = ['#0b6bcb', '#2e7d32', '#b35c00', '#8e24aa', '#c62828', '#00838f', '#6d4c41', '#546e7a'];
const UPLOT_JS = new URL('./vendor/uplot/uPlot.esm.js', import.meta.url).href;
const UPLOT_CSS = new URL('./vendor/uplot/uPlot.min.css', import.meta.url).href;

let loading: Promise<UPlotCtor> | undefined;

function loadUPlot(): Promise<UPlotCtor> {
  if (!document.querySelector('link[data-uplot]')) {
    document.head.appendChild(h('link', { rel: 'stylesheet', href: UPLOT_CSS, 'data-uplot': true }));
  }
  loading ??= (import(UPLOT_JS) as Promise<{ default: UPlotCtor }>).then((m) => m.default);
  return loading;
}

/** Resolves once `el` is in the document and laid out (pages render detached, then swap in). */
function attached(el: HTMLElement): Promise<void> {
  return new Promise((resolve, reject) => {
    let frames = 0;
    const check = (): void => {
      if (el.isConnected && el.clientWidth > 0) resolve();
      else if (++frames > 600) reject(new Error('chart never shown'));
      else requestAnimationFrame(check);
    };
    check();
  });
}

const chartHeight = (): number => (window.innerWidth <= 600 ? 180 : 240);

function fmtSeconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/** Points that are there and not zero: what the tests and the empty-state note look at. */
export function nonZeroPoints(v: ChartView): number {
  return v.series.reduce((n, s) => n + s.values.filter((x) => x !== null && x !== 0).length, 0);
}

async function draw(box: HTMLElement, v: ChartView, yLabel: string): Promise<void> {
  const UPlot = await loadUPlot();
  await attached(box);
  const right = v.series.find((s) => s.axis === 'right');
  const opts: uPlot.Options = {
    width: box.clientWidth,
    height: chartHeight(),
    // One sample alone: a ten-minute window ending at it, rather than uPlot's years-wide default.
    scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 540, max + 60] : [min, max]) }, ...(right ? { r: { auto: true } } : {}) },
    series: [
      {},
      ...v.series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length]!,
        width: 2,
        points: { show: v.t.length < 3 },
        ...(s.axis === 'right' ? { scale: 'r' } : {}),
      })),
    ],
    axes: [{}, { label: yLabel, size: 56 }, ...(right ? [{ scale: 'r', side: 1 as const, label: right.label, grid: { show: false }, size: 56 }] : [])],
  };
  const data = [v.t.map((t) => t / 1000), ...v.series.map((s) => s.values)] as uPlot.AlignedData;
  box.replaceChildren();
  const plot = new UPlot(opts, data, box);
  let last = box.clientWidth;
  const ro = new ResizeObserver(() => {
    if (!box.isConnected) {
      ro.disconnect();
      plot.destroy();
      return;
    }
    if (box.clientWidth > 0 && box.clientWidth !== last) {
      last = box.clientWidth;
      plot.setSize({ width: box.clientWidth, height: chartHeight() });
    }
  });
  ro.observe(box);
  box.dataset['rendered'] = 'true';
}

/**
 * A card with a title and one chart of `/api/<path>`. Loads in the background: the page around it
 * shows at once, and a failed chart shows its error inside the card only.
 */
export function chartCard(id: string, title: string, path: string, yLabel: string): HTMLElement {
  const box = h('div', { class: 'chart', id, 'data-points': '' });
  const note = h('p', { class: 'muted chart-note' });
  void api<ChartView>(path)
    .then(async (v) => {
      box.dataset['points'] = String(nonZeroPoints(v));
      const span = `${fmtSeconds(v.historyMs)}, a sample every ${fmtSeconds(v.intervalMs)}`;
      if (v.note) mount(note, `Not sampling: ${v.note}`);
      else if (v.t.length < 2) mount(note, `Collecting samples (${span}); the lines fill in as they come.`);
      else mount(note, `Last ${span}.`);
      await draw(box, v, yLabel);
    })
    .catch((e: unknown) => mount(box, errorBox(e)));
  return h('section', { class: 'card chart-card' }, h('h2', null, title), box, note);
}
