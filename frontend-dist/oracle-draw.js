// Drawing a hexagram: six bars, bottom line first, yang solid, yin broken, changing lines (6 old
// yin, 9 old yang) marked with × or ○ in their own colour. The geometry is plain data
// (hexagramBars, relatingValues: no DOM, unit-tested), and hexagramSvg makes the inline SVG.

const SVG = "http://www.w3.org/2000/svg";
export const BAR = { width: 60, height: 7, gap: 5, mark: 14 };

/** The relating hexagram's values: changing lines turn (6 → 7, 9 → 8), the others stay. */
export function relatingValues(lines) {
  return lines.map((value) => (value === 6 ? 7 : value === 9 ? 8 : value));
}

/**
 * The bars of six values (bottom first): `[{position 1–6, value, yang, changing, y, segments:
 * [{x, width}], mark: "o"|"x"|null}]`, listed bottom first with `y` counted from the top.
 */
export function hexagramBars(lines) {
  if (!Array.isArray(lines) || lines.length !== 6) throw new Error("six lines");
  const step = BAR.height + BAR.gap;
  return lines.map((value, index) => {
    const yang = value === 7 || value === 9;
    const changing = value === 6 || value === 9;
    const half = (BAR.width - BAR.gap * 2) / 2;
    return {
      position: index + 1,
      value,
      yang,
      changing,
      y: (5 - index) * step,
      segments: yang ? [{ x: 0, width: BAR.width }] : [{ x: 0, width: half }, { x: BAR.width - half, width: half }],
      mark: value === 9 ? "o" : value === 6 ? "x" : null,
    };
  });
}

/** The size of the drawing: `{width, height}` (room for the marks on the right). */
export function drawingSize() {
  return { width: BAR.width + BAR.mark, height: 6 * BAR.height + 5 * BAR.gap };
}

function node(name, attributes = {}) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

/**
 * The inline SVG of six values. `marks`: draw the changing lines' marks (not for a relating
 * hexagram); `size`: its width in CSS pixels. Hidden from assistive technology: the card around
 * it carries the words (the reading's summary).
 */
export function hexagramSvg(lines, { marks = true, size = 76, className = "" } = {}) {
  const { width, height } = drawingSize();
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, width: size, height: Math.round((size * height) / width), "aria-hidden": "true", focusable: "false" });
  svg.classList.add("hexagram");
  if (className) svg.classList.add(...className.split(" ").filter(Boolean));
  for (const bar of hexagramBars(lines)) {
    const group = node("g", { "data-position": bar.position, "data-value": bar.value });
    group.classList.add("bar", `line-${bar.position}`, bar.yang ? "yang" : "yin");
    const changing = marks && bar.changing;
    if (changing) group.classList.add("changing");
    for (const segment of bar.segments) {
      group.append(node("rect", { x: segment.x, y: bar.y, width: segment.width, height: BAR.height, rx: 1 }));
    }
    if (changing) {
      const cx = BAR.width + BAR.mark / 2 + 1;
      const cy = bar.y + BAR.height / 2;
      const r = BAR.height / 2 + 0.5;
      if (bar.mark === "o") group.append(node("circle", { class: "mark", cx, cy, r, fill: "none" }));
      else {
        group.append(node("path", { class: "mark", d: `M${cx - r} ${cy - r}L${cx + r} ${cy + r}M${cx + r} ${cy - r}L${cx - r} ${cy + r}` }));
      }
    }
    svg.append(group);
  }
  return svg;
}
