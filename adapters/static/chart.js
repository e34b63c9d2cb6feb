// Today by hour: one stacked bar per local hour (answered, unanswered, the rest),
// all channels together, drawn as SVG; the same figures follow as a table.

import { h, svg } from "./dom.js";
import { t } from "./i18n.js";

const W = 480;
const H = 150;
const PAD = { left: 28, right: 6, top: 8, bottom: 20 };

/**
 * Round ticks for an axis from 0 to at least `top`: a step of 1, 2 or 5 times
 * a power of ten, at most five steps, the axis ending on a tick.
 */
export function niceTicks(top) {
  const max = Math.max(1, top);
  let step = 1;
  for (let p = 1; ; p *= 10) {
    const found = [1, 2, 5].map((m) => m * p).find((s) => max / s <= 5);
    if (found) {
      step = found;
      break;
    }
  }
  const end = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = 0; v <= end; v += step) ticks.push(v);
  return ticks;
}

function sum(channels, key) {
  const out = new Array(24).fill(0);
  for (const c of channels) {
    const series = c.by_hour?.[key] || [];
    for (let i = 0; i < 24; i++) out[i] += series[i] || 0;
  }
  return out;
}

export function renderHourly(state, { currentHour }) {
  const channels = Object.values(state.today.channels || {});
  const contacts = sum(channels, "contacts");
  const answered = sum(channels, "answered");
  const unanswered = sum(channels, "unanswered");
  const total = contacts.reduce((a, b) => a + b, 0);
  const ticks = niceTicks(Math.max(0, ...contacts.map((c, i) => Math.max(c, answered[i] + unanswered[i]))));
  const top = ticks[ticks.length - 1];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / 24;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const summary = t("hourlySummary", {
    total,
    answered: answered.reduce((a, b) => a + b, 0),
    unanswered: unanswered.reduce((a, b) => a + b, 0),
  });

  const grid = [];
  for (const v of ticks) {
    grid.push(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "gridline" }),
      svg("text", { x: PAD.left - 4, y: y(v) + 3, class: "axis tick-y", "text-anchor": "end" }, String(v)),
    );
  }
  const bars = [];
  for (let hr = 0; hr < 24; hr++) {
    const x = PAD.left + hr * slot + 1;
    const w = slot - 2;
    const a = answered[hr];
    const u = unanswered[hr];
    const rest = Math.max(0, contacts[hr] - a - u);
    let base = 0;
    for (const [v, cls] of [[a, "bar-answered"], [u, "bar-unanswered"], [rest, "bar-other"]]) {
      if (v > 0) {
        bars.push(svg("rect", { x, width: w, y: y(base + v), height: y(base) - y(base + v), class: cls }));
        base += v;
      }
    }
    if (hr % 3 === 0) {
      bars.push(svg("text", { x: x + w / 2, y: H - 6, class: "axis", "text-anchor": "middle" }, String(hr).padStart(2, "0")));
    }
    if (hr === currentHour) {
      bars.push(svg("rect", { x: x - 1, width: slot, y: PAD.top, height: plotH, class: "now" }));
    }
  }
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart", preserveAspectRatio: "xMidYMid meet" },
    grid,
    bars,
  );
  const legend = h(
    "ul",
    { class: "legend" },
    h("li", {}, h("span", { class: "swatch bar-answered" }), t("legendAnswered")),
    h("li", {}, h("span", { class: "swatch bar-unanswered" }), t("legendUnanswered")),
    h("li", {}, h("span", { class: "swatch bar-other" }), t("legendOther")),
  );
  const hours = [...Array(24).keys()].filter((hr) => contacts[hr] || answered[hr] || unanswered[hr]);
  const table = h(
    "details",
    { class: "chart-table" },
    h("summary", {}, t("hourlyTable")),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, [t("hour"), t("f_contacts"), t("legendAnswered"), t("legendUnanswered")].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        hours.map((hr) =>
          h("tr", {}, h("th", { scope: "row" }, `${String(hr).padStart(2, "0")}:00`), h("td", { class: "num" }, contacts[hr]), h("td", { class: "num" }, answered[hr]), h("td", { class: "num" }, unanswered[hr])),
        ),
      ),
    ),
  );
  return [chart, legend, table];
}
