/**
 * The reports view's charts, drawn with uPlot: x is the index of a day / cause / agent
 * (report.ts turns the summary into that data), labelled from a list of strings; series
 * are bars or lines. "Nothing to show" instead of an empty frame. Null values are gaps.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from '../shared/dom';
import type { ChartData } from './report';

export interface SeriesSpec {
  label: string;
  color: string;
  kind: 'bar' | 'line';
}

export interface ReportChartOptions {
  series: SeriesSpec[];
  height?: number;
  emptyText: string;
  testid: string;
  /** shows the legend (with the values under the cursor) */
  legend?: boolean;
  /** how a y value is written on the axis and in the legend */
  fmt?: (v: number) => string;
  /** fixed y range (anger levels: 0–100); else from the data, always including 0 */
  yRange?: [number, number];
  /** counts: ticks on whole numbers only */
  integer?: boolean;
}

/** Whole-number tick steps for counts. */
const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000];

/** "Producto equivocado" → "Producto\nequivocado": long tick labels on two lines. */
function wrapLabel(s: string): string {
  if (s.length <= 11) return s;
  const i = s.lastIndexOf(' ', Math.ceil(s.length / 2) + 3);
  return i > 0 ? s.slice(0, i) + '\n' + s.slice(i + 1) : s;
}

export class ReportChart {
  readonly el: HTMLElement;
  private holder: HTMLElement;
  private empty: HTMLElement;
  private plot: uPlot | null = null;
  private width = 0;
  private n = -1;
  private labels: string[] = [];

  constructor(private o: ReportChartOptions) {
    this.empty = h('div', { class: 'chart-empty', 'data-testid': o.testid + '-empty', hidden: true }, o.emptyText);
    this.holder = h('div', { class: 'chart-holder', 'data-testid': o.testid });
    this.el = h('div', { class: 'chart report-chart' }, this.empty, this.holder);
  }

  private build(width: number, n: number): uPlot {
    this.plot?.destroy();
    this.width = width;
    this.n = n;
    const o = this.o;
    const fmt = o.fmt ?? ((v: number) => String(v));
    const axis = { stroke: '#6b7785', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#e3e8ee' }, font: '11px system-ui' };
    const opts: uPlot.Options = {
      width,
      height: o.height ?? 200,
      legend: { show: !!o.legend, live: true },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: () => [-0.5, Math.max(0, this.n - 1) + 0.5] },
        y: {
          range: o.yRange
            ? o.yRange
            : (_u, min, max) => {
                const lo = Math.min(0, Number.isFinite(min) ? min : 0);
                const hi = Math.max(0, Number.isFinite(max) ? max : 0);
                const span = hi - lo || 1;
                const top = hi + span * 0.12;
                return [lo < 0 ? lo - span * 0.08 : 0, o.integer ? Math.max(1, Math.ceil(top)) : top];
              },
        },
      },
      axes: [
        {
          ...axis,
          grid: { show: false },
          size: 42,
          // One label per bar, thinned out when they would overlap.
          splits: () => {
            const step = Math.max(1, Math.ceil(this.n / Math.max(1, Math.floor((this.width - 50) / 62))));
            const out: number[] = [];
            for (let i = 0; i < this.n; i += step) out.push(i);
            return out;
          },
          values: (_u, splits) => splits.map((i) => wrapLabel(this.labels[i] ?? '')),
        },
        { ...axis, size: 44, incrs: o.integer ? INTEGER_INCRS : undefined, values: (_u, splits) => splits.map((v) => fmt(v)) },
      ],
      series: [
        // (the x entry is hidden in the legend by the stylesheet; values show under the cursor)
        { label: '', value: (_u, v) => (v == null ? '' : this.labels[v] ?? '') },
        ...o.series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: s.kind === 'bar' ? 1 : 2,
            fill: s.kind === 'bar' ? s.color + 'cc' : undefined,
            fillTo: 0,
            spanGaps: false,
            paths: s.kind === 'bar' ? uPlot.paths.bars!({ size: [0.62, 56], align: 0 }) : undefined,
            points: s.kind === 'line' ? { show: true, size: 6, fill: s.color } : { show: false },
            value: (_u, v) => (v == null ? '' : fmt(v)),
          }),
        ),
      ],
    };
    this.plot = new uPlot(opts, [[]], this.holder);
    return this.plot;
  }

  /** data from report.ts (x = 0..n-1), one label per x; hidden behind "nothing to show" when `empty`. */
  update(data: ChartData, labels: string[], width: number, empty = false): void {
    this.labels = labels;
    const n = data[0].length;
    this.empty.hidden = !empty;
    this.holder.hidden = empty;
    if (empty) return;
    const w = Math.max(240, Math.floor(width));
    const plot = this.plot && Math.abs(w - this.width) < 4 && n === this.n ? this.plot : this.build(w, n);
    plot.setData(data as uPlot.AlignedData);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}
