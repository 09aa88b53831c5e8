// Small inline-SVG charts for the usage dashboard: lines, bars (grouped or stacked) and
// horizontal share bars, with axes, "nice" ticks and gridlines. No chart library, no text from
// outside parsed as markup (every label is a text node). The SVG is drawn at the width it will
// be shown at (`width`, in CSS pixels) and scales with its viewBox, so its 12px labels stay
// 12px on a phone as on a desktop; the caller draws it again when the width changes a lot.
//
// Nothing here touches the DOM until a chart is drawn, and nothing imports i18n.js: the labels
// and number formats come from the caller, and the helpers (ticks, label spacing, text width)
// can be tested in Node.

const SVG = "http://www.w3.org/2000/svg";
const FONT = 12; // the labels' size, in CSS pixels at the drawn width

/** Nice round steps for an axis from 0 to at least `max`: [0, step, 2·step, …, top]. */
export function niceTicks(max, { count = 5, integer = true } = {}) {
  const high = Number.isFinite(max) && max > 0 ? max : 0;
  if (high === 0) return [0, 1];
  const rough = high / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  // Counts step by whole numbers: no 2.5 below 10, and never less than 1.
  const factors = integer && magnitude < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = factors.map((f) => f * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks = [];
  for (let value = 0; value < high + step / 2 && ticks.length < 50; value += step) ticks.push(round(value));
  if (ticks[ticks.length - 1] < high) ticks.push(round(ticks[ticks.length - 1] + step));
  return ticks;
}

const round = (value) => Math.round(value * 1e9) / 1e9;

/** Every how many categories to label, so that labels are at least `spacing` px apart. */
export function labelEvery(count, plotWidth, spacing = 64) {
  if (count <= 1) return 1;
  const fits = Math.max(1, Math.floor(plotWidth / spacing));
  return Math.max(1, Math.ceil(count / fits));
}

/** The width of `text` at `size` px, estimated: CJK and full-width characters are 1em, others ~0.6em. */
export function textWidth(text, size = FONT) {
  let em = 0;
  for (const char of String(text)) em += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(char) ? 1 : 0.6;
  return em * size;
}

/** The drawn size for a container `width` px wide: at least 280 wide, a little taller on phones. */
export function chartSize(width) {
  const w = Math.round(Math.min(900, Math.max(280, Number(width) || 640)));
  return { width: w, height: w < 480 ? 230 : 260 };
}

function el(name, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A <title> (the browser's tooltip) for a point or a bar. */
const tip = (text) => el("title", {}, text);

function frame({ width, height, labelledBy, describedBy, kind }) {
  return el("svg", {
    viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", focusable: "false",
    "aria-labelledby": labelledBy, "aria-describedby": describedBy,
    class: `chart chart-${kind}`, preserveAspectRatio: "xMidYMid meet",
  });
}

/**
 * The frame every category chart shares: the y axis from 0 with its ticks and gridlines, its
 * label, the x labels (thinned so they never overlap) and the x axis label. Returns the
 * geometry: `{svg, plot: {left, top, width, height}, x(i) (the centre of category i), band,
 * y(value)}`.
 */
function axes(options) {
  const { width, height, labels, max, yLabel, xLabel, formatY = String, integer = true } = options;
  const ticks = niceTicks(max, { count: height < 240 ? 4 : 5, integer });
  const top = ticks[ticks.length - 1];
  const tickWidth = Math.max(...ticks.map((tick) => textWidth(formatY(tick))));
  const plot = { left: Math.ceil(22 + tickWidth + 8), top: 10, right: 12, bottom: 50 };
  plot.width = Math.max(40, width - plot.left - plot.right);
  plot.height = Math.max(40, height - plot.top - plot.bottom);
  const n = Math.max(1, labels.length);
  const band = plot.width / n;
  const x = (i) => plot.left + (i + 0.5) * band;
  const y = (value) => plot.top + plot.height - (Math.max(0, value) / top) * plot.height;
  const svg = frame({ ...options, width, height });

  const grid = el("g", { class: "grid", "aria-hidden": "true" });
  for (const tick of ticks) {
    const at = y(tick);
    grid.append(
      el("line", { x1: plot.left, x2: plot.left + plot.width, y1: at, y2: at, class: tick === 0 ? "baseline" : null }),
      el("text", { x: plot.left - 6, y: at, "text-anchor": "end", "dominant-baseline": "middle", class: "tick" }, formatY(tick)));
  }
  const every = labelEvery(n, plot.width, Math.max(56, Math.min(96, Math.max(...labels.map((label) => textWidth(label))) + 14)));
  labels.forEach((label, i) => {
    if (i % every) return;
    // Centred under its category, but never past either edge.
    const half = textWidth(label) / 2;
    let at = x(i);
    let anchor = "middle";
    if (at + half > width - 2) [at, anchor] = [width - 2, "end"];
    else if (at - half < 2) [at, anchor] = [2, "start"];
    grid.append(
      el("line", { x1: x(i), x2: x(i), y1: plot.top + plot.height, y2: plot.top + plot.height + 4, class: "tick-mark" }),
      el("text", { x: at, y: plot.top + plot.height + 8 + FONT, "text-anchor": anchor, class: "tick" }, label));
  });
  grid.append(
    el("text", { x: plot.left + plot.width / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, xLabel),
    el("text", {
      x: 0, y: 0, transform: `translate(${FONT + 2} ${plot.top + plot.height / 2}) rotate(-90)`,
      "text-anchor": "middle", class: "axis-label",
    }, yLabel));
  svg.append(grid);
  return { svg, plot, x, y, band, top };
}

/**
 * Lines, one per series: `{width, height, labels, series: [{name, values, color, dash,
 * marker: "circle"|"square"}], yLabel, xLabel, formatY, labelledBy, describedBy}`.
 */
export function lineChart(options) {
  const { labels, series, formatY = String } = options;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const { svg, x, y, band } = axes({ ...options, kind: "line", max });
  const markers = band >= 7;
  for (const one of series) {
    const group = el("g", { class: "series", "data-series": one.key ?? one.name });
    const points = one.values.map((value, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(value).toFixed(1)}`).join(" ");
    group.append(el("path", {
      d: points, fill: "none", "stroke-width": 2.25, "stroke-linejoin": "round", "stroke-linecap": "round",
      "stroke-dasharray": one.dash ?? null, style: { stroke: one.color },
    }));
    one.values.forEach((value, i) => {
      const label = `${labels[i]} · ${one.name}: ${formatY(value)}`;
      const r = markers ? 3.5 : 2;
      const shape = one.marker === "square"
        ? el("rect", { x: x(i) - r, y: y(value) - r, width: 2 * r, height: 2 * r, style: { fill: one.color } }, tip(label))
        : el("circle", { cx: x(i), cy: y(value), r, style: { fill: one.color } }, tip(label));
      if (markers || value > 0) group.append(shape);
    });
    svg.append(group);
  }
  return svg;
}

/**
 * Bars per category, side by side (or `stacked`): the same options as lineChart; a series'
 * `pattern` "hatch" draws it hatched (told apart without its colour).
 */
export function barChart(options) {
  const { labels, series, stacked = false, formatY = String } = options;
  const sums = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = stacked ? Math.max(0, ...sums) : Math.max(0, ...series.flatMap((s) => s.values));
  const { svg, x, y, band } = axes({ ...options, kind: "bar", max });
  const defs = el("defs");
  svg.prepend(defs);
  const inner = Math.max(1, band * (stacked ? 0.66 : 0.8));
  const each = stacked ? inner : Math.max(1, inner / series.length);
  series.forEach((one, k) => {
    let fill = one.color;
    if (one.pattern === "hatch") {
      const id = `${options.labelledBy ?? "chart"}-hatch-${k}`;
      defs.append(el("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        el("rect", { width: 6, height: 6, style: { fill: one.color, opacity: 0.35 } }),
        el("line", { x1: 0, y1: 0, x2: 0, y2: 6, "stroke-width": 3, style: { stroke: one.color } })));
      fill = `url(#${id})`;
    }
    const group = el("g", { class: "series", "data-series": one.key ?? one.name });
    one.values.forEach((value, i) => {
      if (!(value > 0)) return;
      const below = stacked ? series.slice(0, k).reduce((sum, s) => sum + (s.values[i] ?? 0), 0) : 0;
      const left = x(i) - inner / 2 + (stacked ? 0 : k * each);
      const top = y(below + value);
      const height = Math.max(1, y(below) - top);
      group.append(el("rect", {
        x: left.toFixed(1), y: top.toFixed(1), width: Math.max(1, each - (stacked || series.length === 1 ? 0 : 1)).toFixed(1),
        height: height.toFixed(1), rx: each > 6 ? 2 : 0, style: { fill, stroke: one.pattern ? one.color : null },
      }, tip(`${labels[i]} · ${one.name}: ${formatY(value)}`)));
    });
    svg.append(group);
  });
  return svg;
}

/**
 * Horizontal bars of a share (0…1) per item: `{width, items: [{key, label, share (null: none
 * yet), text, color}], axisLabel, formatShare, labelledBy, describedBy}`. Each item is a row:
 * its label and text above, the bar under them, over a 0–100 % scale.
 */
export function shareBars(options) {
  const { width, items, axisLabel, formatShare = (v) => `${Math.round(v * 100)}%` } = options;
  const row = 50;
  const plot = { left: 10, right: 14, top: 6 };
  plot.width = Math.max(60, width - plot.left - plot.right);
  const height = plot.top + items.length * row + 44;
  const svg = frame({ ...options, width, height, kind: "share" });
  const x = (share) => plot.left + share * plot.width;
  const grid = el("g", { class: "grid", "aria-hidden": "true" });
  const bottom = plot.top + items.length * row;
  grid.append(el("line", { x1: plot.left, x2: plot.left + plot.width, y1: bottom + 2, y2: bottom + 2, class: "baseline" }));
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    grid.append(
      el("line", { x1: x(share), x2: x(share), y1: bottom + 2, y2: bottom + 6, class: "tick-mark" }),
      el("text", { x: x(share), y: bottom + 8 + FONT, "text-anchor": share === 0 ? "start" : share === 1 ? "end" : "middle", class: "tick" }, formatShare(share)));
  }
  grid.append(el("text", { x: plot.left + plot.width / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, axisLabel));
  svg.append(grid);
  items.forEach((item, i) => {
    const top = plot.top + i * row;
    const group = el("g", { class: "series", "data-series": item.key ?? item.label });
    group.append(
      el("text", { x: plot.left, y: top + FONT, class: "bar-label" }, item.label),
      el("text", { x: plot.left + plot.width, y: top + FONT, "text-anchor": "end", class: "bar-value" }, item.text),
      el("rect", { x: plot.left, y: top + 20, width: plot.width, height: 16, rx: 3, class: "track" }));
    if (item.share !== null && item.share !== undefined) {
      group.append(el("rect", {
        x: plot.left, y: top + 20, width: Math.max(item.share > 0 ? 2 : 0, item.share * plot.width).toFixed(1), height: 16, rx: 3,
        style: { fill: item.color },
      }, tip(`${item.label}: ${item.text}`)));
    }
    // The quarters, marked across the bar (over its fill too), to read it against the scale.
    for (const share of [0.25, 0.5, 0.75]) {
      group.append(el("line", { x1: x(share), x2: x(share), y1: top + 20, y2: top + 36, class: "quarter", "aria-hidden": "true" }));
    }
    svg.append(group);
  });
  return svg;
}
