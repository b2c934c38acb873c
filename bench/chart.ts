/** A small SVG line chart: each shard's delivered records per second, with the quota as a dashed line. */
import type { ShardTimeline } from './scenarios.js';

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export function shardRateChart(series: readonly ShardTimeline[], quota: number): string {
  const width = 720;
  const height = 360;
  const pad = { left: 60, right: 170, top: 30, bottom: 45 };
  const seconds = Math.max(...series.map((s) => s.perSecond.length), 2);
  const top = Math.max(quota * 1.25, ...series.flatMap((s) => s.perSecond));
  const x = (s: number) => pad.left + (s / (seconds - 1)) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<text x="${width / 2 - 60}" y="18" font-size="14" font-family="sans-serif">Delivered records/s per shard</text>`,
  );
  for (let v = 0; v <= top; v += 250) {
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(
      `<text x="${pad.left - 8}" y="${y(v) + 4}" font-size="11" text-anchor="end" font-family="sans-serif">${v}</text>`,
    );
  }
  for (let s = 0; s < seconds; s += Math.max(1, Math.round(seconds / 10))) {
    parts.push(
      `<text x="${x(s)}" y="${height - pad.bottom + 16}" font-size="11" text-anchor="middle" font-family="sans-serif">${s}</text>`,
    );
  }
  parts.push(
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" font-size="12" text-anchor="middle" font-family="sans-serif">seconds since the run started</text>`,
  );
  parts.push(
    `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(quota)}" y2="${y(quota)}" stroke="black" stroke-dasharray="6 4"/>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = s.perSecond.map((v, t) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`);
    const ly = pad.top + 20 + i * 18;
    parts.push(
      `<line x1="${width - pad.right + 12}" x2="${width - pad.right + 32}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
    );
    parts.push(
      `<text x="${width - pad.right + 38}" y="${ly + 4}" font-size="11" font-family="sans-serif">${s.shardId}</text>`,
    );
  });
  const qy = pad.top + 20 + series.length * 18;
  parts.push(
    `<line x1="${width - pad.right + 12}" x2="${width - pad.right + 32}" y1="${qy}" y2="${qy}" stroke="black" stroke-dasharray="6 4"/>`,
  );
  parts.push(
    `<text x="${width - pad.right + 38}" y="${qy + 4}" font-size="11" font-family="sans-serif">quota</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${parts.join('\n')}\n</svg>\n`;
}
