// Usage by day as a uPlot chart (bundled from npm at build time), one series per metric,
// with the same numbers in a table beside it for keyboards and screen readers.
import uPlot from 'uplot';
import { h, table } from './dom.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2'];

/** Midnight UTC of a `YYYY-MM-DD` date, in seconds (uPlot's time unit). */
const seconds = (date) => Date.parse(`${date}T00:00:00Z`) / 1000;

/**
 * A chart of `metrics` (`[{code, days: [{date, quantity, event_count}]}]`, the days the
 * same for every metric). Quantities are decimal strings; they become numbers here only
 * to be drawn.
 */
export function usageChart(metrics) {
  const dates = metrics[0]?.days.map((d) => d.date) ?? [];
  // Days still to come are left out of the line, not drawn as zero.
  const today = new Date().toISOString().slice(0, 10);
  const data = [dates.map(seconds), ...metrics.map((m) => m.days.map((d) => (d.date > today ? null : Number(d.quantity))))];
  const plot = h('div', { class: 'chart', role: 'img', 'aria-label': `Usage by day, ${metrics.map((m) => m.code).join(', ')}` });
  const bars = metrics.length === 1;
  const opts = {
    width: 600,
    height: 200,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    // Half a day of room either side, so the first and last days' bars show whole.
    scales: { x: { time: true, range: (_, lo, hi) => [lo - 43_200, hi + 43_200] }, y: { range: (_, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
    axes: [{}, { size: 60 }],
    series: [
      { label: 'Day (UTC)', value: (_, ts) => (ts == null ? '—' : new Date(ts * 1000).toISOString().slice(0, 10)) },
      ...metrics.map((m, i) => ({
        label: m.code,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? `${COLORS[i % COLORS.length]}55` : undefined,
        width: 2,
        paths: bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined,
        points: { show: !bars },
        value: (_, v, __, idx) => (idx == null ? '—' : metrics[i].days[idx]?.quantity ?? '—'),
      })),
    ],
  };
  let chart = null;
  // Sized to its box, and again whenever the box changes (a phone turned, a window resized).
  const observer = new ResizeObserver(([entry]) => {
    if (!plot.isConnected) {
      observer.disconnect();
      chart?.destroy();
      return;
    }
    const width = Math.floor(entry.contentRect.width);
    if (!width) return;
    if (!chart) chart = new uPlot({ ...opts, width }, data, plot);
    else chart.setSize({ width, height: opts.height });
  });
  observer.observe(plot);
  const rows = dates.map((d, i) => [d, ...metrics.map((m) => `${m.days[i].quantity} (${m.days[i].event_count} events)`)]);
  return h('div', null, plot,
    h('details', { class: 'chart-table' }, h('summary', null, 'Show as a table'),
      table('Usage by day', ['Day (UTC)', ...metrics.map((m) => m.code)], rows)));
}
