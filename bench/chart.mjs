// A hand-written SVG bar chart: end-to-end images/s against worker processes, with the one-worker ceiling.
const esc = (s) => String(s).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]);

export function scalingSvg(points, small) {
  const width = 520;
  const height = 300;
  const left = 60;
  const bottom = 250;
  const top = 40;
  const ceiling = small?.combinedCeiling;
  const max = Math.max(...points.map((p) => p.imagesPerSec), ceiling ?? 0) * 1.15;
  const y = (v) => Math.round((bottom - ((bottom - top) * v) / max) * 10) / 10;
  const barW = 70;
  const gap = (width - left - 20 - points.length * barW) / (points.length + 1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>End-to-end images/s against worker processes</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(`${small?.label ?? 'small model'}: end-to-end images/s`)}</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${width - 20}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
    parts.push(`<line x1="${left}" y1="${y(v)}" x2="${width - 20}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  points.forEach((p, i) => {
    const x = left + gap + i * (barW + gap);
    parts.push(
      `<rect x="${x}" y="${y(p.imagesPerSec)}" width="${barW}" height="${bottom - y(p.imagesPerSec)}" fill="#4a7ab5"/>`,
    );
    parts.push(
      `<text x="${x + barW / 2}" y="${y(p.imagesPerSec) - 5}" text-anchor="middle">${p.imagesPerSec.toFixed(1)}</text>`,
    );
    parts.push(
      `<text x="${x + barW / 2}" y="${bottom + 16}" text-anchor="middle">${p.workers} worker${p.workers > 1 ? 's' : ''}</text>`,
    );
  });
  if (ceiling) {
    parts.push(
      `<line x1="${left}" y1="${y(ceiling)}" x2="${width - 20}" y2="${y(ceiling)}" stroke="#c33" stroke-dasharray="5,4"/>`,
    );
    parts.push(
      `<text x="${width - 22}" y="${y(ceiling) - 5}" text-anchor="end" fill="#c33">combined CPU ceiling ${ceiling.toFixed(1)}/s</text>`,
    );
  }
  parts.push(
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle">worker processes on one Redis (same machine)</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
