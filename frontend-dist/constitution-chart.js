// The constitution result's chart: nine horizontal bars on one 0–100 scale, the balanced type
// first and set apart, each with its name and score above it, dashed threshold marks across the
// bars (60 for the balanced type; 30 and 40 for the other eight) and a scale under them. The
// geometry is plain data (chartLayout: no DOM, unit-tested); chartSvg makes the inline SVG. The
// drawing is narrow on purpose (its text stays readable when a phone shrinks it); the words
// around it (the text alternative, the verdicts) say everything it shows.
import { formatScore, tone } from "./constitution-data.js";

const SVG = "http://www.w3.org/2000/svg";

/** Sizes in the SVG's own units. */
export const CHART = { width: 360, row: 44, name: 14, barY: 20, bar: 12, gap: 12, tick: 3, axis: 15 };

/** The thresholds drawn on a type's bar. */
export function thresholds(type) {
  return type === "balanced" ? [60] : [30, 40];
}

/** The x of `score` (0–100, clamped). */
export function scoreX(score) {
  const value = Math.min(100, Math.max(0, Number(score) || 0));
  return Math.round((value / 100) * CHART.width * 100) / 100;
}

/**
 * The chart's geometry for `scores` (the assessment's nine, in order): `{width, height, rows:
 * [{type, score, verdict, tone, top, nameY, barY, barWidth, marks: [{value, x, y1, y2}]}],
 * separator (the y of the line under the balanced row), axis: {y, ticks: [{value, x}]}}`.
 */
export function chartLayout(scores) {
  const rows = scores.map((entry, index) => {
    const top = index * CHART.row + (index > 0 ? CHART.gap : 0);
    const barY = top + CHART.barY;
    return {
      type: entry.type,
      score: entry.score,
      verdict: entry.verdict,
      tone: tone(entry.verdict),
      top,
      nameY: top + CHART.name,
      barY,
      barWidth: scoreX(entry.score),
      marks: thresholds(entry.type).map((value) => ({ value, x: scoreX(value), y1: barY - CHART.tick, y2: barY + CHART.bar + CHART.tick })),
    };
  });
  const last = rows[rows.length - 1];
  const axisY = (last ? last.barY + CHART.bar : 0) + CHART.axis;
  return {
    width: CHART.width,
    height: axisY + 4,
    rows,
    separator: rows.length > 1 ? CHART.row + CHART.gap / 2 - 2 : null,
    axis: { y: axisY, ticks: [0, 30, 40, 100].map((value) => ({ value, x: scoreX(value) })) },
  };
}

function node(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(key, String(value));
  }
  if (text !== null) element.textContent = text;
  return element;
}

/**
 * The chart as inline SVG. `name(type)`: a type's name in the reader's language; `label`: the
 * SVG's accessible name and `describedBy`: the id of its text alternative.
 */
export function chartSvg(scores, { name, label = "", describedBy = null } = {}) {
  const layout = chartLayout(scores);
  const svg = node("svg", {
    viewBox: `0 0 ${layout.width} ${layout.height}`, width: layout.width, height: layout.height,
    role: "img", "aria-label": label, "aria-describedby": describedBy, focusable: "false",
  });
  svg.classList.add("cs-chart");
  if (layout.separator !== null) svg.append(node("line", { class: "separator", x1: 0, x2: layout.width, y1: layout.separator, y2: layout.separator }));
  for (const row of layout.rows) {
    const group = node("g", { class: `cs-row tone-${row.tone}`, "data-type": row.type, "data-verdict": row.verdict, "data-score": row.score });
    group.append(
      node("text", { class: "name", x: 0, y: row.nameY }, name ? name(row.type) : row.type),
      node("text", { class: "score", x: layout.width, y: row.nameY, "text-anchor": "end" }, formatScore(row.score)),
      node("rect", { class: "track", x: 0, y: row.barY, width: layout.width, height: CHART.bar, rx: 3 }),
      node("rect", { class: "bar", x: 0, y: row.barY, width: row.barWidth, height: CHART.bar, rx: 3 }));
    for (const mark of row.marks) {
      group.append(node("line", { class: "threshold", "data-value": mark.value, x1: mark.x, x2: mark.x, y1: mark.y1, y2: mark.y2 }));
    }
    if (row.type === "balanced") {
      // Its own threshold named where it is drawn (the others' are on the scale below).
      for (const mark of row.marks) group.append(node("text", { class: "tick", x: mark.x, y: row.nameY, "text-anchor": "middle" }, String(mark.value)));
    }
    svg.append(group);
  }
  const axis = node("g", { class: "axis" });
  for (const tick of layout.axis.ticks) {
    const anchor = tick.value === 0 ? "start" : tick.value === 100 ? "end" : "middle";
    axis.append(node("text", { class: "tick", x: tick.x, y: layout.axis.y, "text-anchor": anchor }, String(tick.value)));
  }
  svg.append(axis);
  return svg;
}
