/** The anger curve of one conversation, drawn with uPlot; "no data" until points arrive. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { CurvePoint } from '../protocol/types';
import { h } from '../shared/dom';

export class AngerChart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private empty: HTMLElement;
  private holder: HTMLElement;
  private width = 320;

  constructor(
    private height = 150,
    emptyText = 'No anger data yet',
  ) {
    this.empty = h('div', { class: 'chart-empty', 'data-testid': 'anger-nodata' }, emptyText);
    this.holder = h('div', { class: 'chart-holder' });
    this.el = h('div', { class: 'chart' }, this.empty, this.holder);
  }

  private ensure(width: number): uPlot {
    if (this.plot && Math.abs(width - this.width) < 4) return this.plot;
    this.plot?.destroy();
    this.width = width;
    const opts: uPlot.Options = {
      width,
      height: this.height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // At least a one-minute window, so a young conversation is not one squashed second.
        x: {
          time: true,
          range: (u) => {
            const xs = u.data[0] as number[];
            if (!xs || !xs.length) return [0, 1];
            const min = xs[0];
            const max = xs[xs.length - 1];
            return max - min < 60 ? [max - 60, max + 3] : [min, max];
          },
        },
        y: { range: [0, 100] },
      },
      axes: [
        {
          stroke: '#6b7785',
          grid: { stroke: '#eef1f4' },
          ticks: { stroke: '#e3e8ee' },
          font: '11px system-ui',
          // Plain HH:MM instead of uPlot's multi-line date labels.
          space: 64,
          values: (_u, splits, _axis, _space, incr) =>
            splits.map((v) =>
              new Date(v * 1000).toLocaleTimeString([], incr < 60 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
            ),
        },
        { stroke: '#6b7785', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#e3e8ee' }, size: 34, font: '11px system-ui', splits: () => [0, 20, 40, 60, 80, 100] },
      ],
      series: [
        {},
        {
          label: 'Anger',
          stroke: '#dc2626',
          width: 2,
          fill: 'rgba(220,38,38,0.10)',
          // Markers while the curve is sparse (a young conversation may have one point).
          points: { show: (_u, _si, i0, i1) => i1 - i0 < 40, size: 6, fill: '#dc2626' },
        },
      ],
      hooks: {
        // The escalation line (level 80) and the warning band (60).
        draw: [
          (u) => {
            const ctx = u.ctx;
            for (const [lvl, color] of [
              [80, 'rgba(220,38,38,.55)'],
              [60, 'rgba(234,88,12,.4)'],
            ] as const) {
              const y = u.valToPos(lvl, 'y', true);
              ctx.save();
              ctx.strokeStyle = color;
              ctx.setLineDash([5, 4]);
              ctx.lineWidth = 1;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.restore();
            }
          },
        ],
      },
    };
    this.plot = new uPlot(opts, [[], []], this.holder);
    return this.plot;
  }

  update(points: CurvePoint[] | undefined, width: number): void {
    const pts = points ?? [];
    const has = pts.length > 0;
    this.empty.hidden = has;
    this.holder.hidden = !has;
    if (!has) return;
    const xs = pts.map((p) => p.ts / 1000);
    const ys = pts.map((p) => p.level);
    this.ensure(Math.max(200, Math.floor(width))).setData([xs, ys]);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}
