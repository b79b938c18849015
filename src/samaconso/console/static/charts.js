// Small inline-SVG charts drawn from numbers (no chart library, no CDN).
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Vertical bars: items = [{label, value}]; every bar has a <title> with its exact value.
export function barChart(items, { width = 640, height = 220, label = "" } = {}) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart" });
  const max = Math.max(1, ...items.map((i) => i.value));
  const pad = 28;
  const w = (width - pad * 2) / Math.max(1, items.length);
  svg.append(el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }));
  svg.append(el("text", { x: 2, y: pad - 8, class: "tick" }, String(max)));
  items.forEach((item, i) => {
    const h = ((height - pad * 2) * item.value) / max;
    const x = pad + i * w + w * 0.1;
    const rect = el("rect", { x, y: height - pad - h, width: Math.max(1, w * 0.8), height: h, class: "bar" });
    rect.append(el("title", {}, `${item.label}: ${item.value}`));
    svg.append(rect);
    if (items.length <= 12 || i % Math.ceil(items.length / 10) === 0) {
      svg.append(el("text", { x: x + w * 0.4, y: height - 8, class: "tick", "text-anchor": "middle" }, item.label));
    }
  });
  return svg;
}

// Horizontal gauge of a rate between 0 and 1 (null: no data).
export function rateBar(rate, { width = 300, label = "" } = {}) {
  const svg = el("svg", { viewBox: `0 0 ${width + 70} 28`, role: "img", "aria-label": label, class: "chart rate" });
  svg.append(el("rect", { x: 0, y: 4, width, height: 20, class: "track" }));
  const value = rate === null || rate === undefined ? 0 : Math.max(0, Math.min(1, rate));
  svg.append(el("rect", { x: 0, y: 4, width: width * value, height: 20, class: "bar" }));
  svg.append(el("text", { x: width + 8, y: 19, class: "rate-text" },
    rate === null || rate === undefined ? "—" : `${Math.round(value * 1000) / 10} %`));
  return svg;
}
