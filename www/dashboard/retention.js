// Retention: cohorts by the day, week or month of their first visit (or of
// a chosen first event), of visitors or people; a triangle of the share of
// each cohort active in each following period (darker is more), and the
// curve, the average share per period after the first, weighted by size.

import { el, fill, count, percent } from "./dom.js";
import { get, csvLink, reportParams } from "./api.js";
import { axisWidth } from "./overview.js";
import { conditionText, parseCondition, cleanCondition, isComplete, conditionInputs } from "./conditions.js";

const $ = (id) => document.getElementById(id);
const GRAIN = { day: "Day", week: "Week", month: "Month" };
let navigateTo = null;
let chart = null;
/** The first event being edited (an event or a page, as funnel steps are). */
let first = null;

export async function showRetention(view, navigate) {
  navigateTo = navigate;
  const r = view.retention;
  $("retention-by").value = r.by;
  $("retention-count").value = r.count;
  $("retention-first-kind").value = r.first_event ? "event" : "";
  first = r.first_event ? parseCondition(r.first_event) : { kind: "event", name: "" };
  drawFirst();

  const params = { ...reportParams(view), by: r.by, count: r.count, first_event: r.first_event };
  const retention = await get("query/retention", params);
  const periods = retention.curve.length;
  const unit = r.count === "people" ? "People" : "Visitors";
  fill($("retention-result"),
    retention.cohorts.length === 0
      ? el("p", { class: "none" }, "No cohorts in this period")
      : el("table", { class: "data triangle", id: "retention-table" },
        el("thead", {}, el("tr", {}, el("th", {}, `Cohort (${r.first_event ? "first event" : "first visit"})`), el("th", { class: "num" }, unit),
          Array.from({ length: periods }, (_, i) => el("th", { class: "num" }, `${GRAIN[r.by]} ${i}`)))),
        el("tbody", {}, retention.cohorts.map((c) => el("tr", { dataset: { cohort: c.start } },
          el("th", { scope: "row" }, c.start),
          el("td", { class: "num" }, count(c.size)),
          Array.from({ length: periods }, (_, i) => i < c.share.length
            ? el("td", { class: "num share", style: `background: ${shade(c.share[i])}`, title: `${count(c.active[i])} of ${count(c.size)}` }, percent(c.share[i]))
            : el("td", {}, ""))))),
      ),
    el("p", { class: "export" }, el("a", { download: true, href: csvLink("query/retention", params) }, "Export as CSV")),
  );
  drawCurve(retention.curve, r.by);
}

/** Light to mid blue: dark text stays readable on every shade. */
function shade(share) {
  return `hsl(225, 70%, ${Math.round(97 - share * 27)}%)`;
}

function drawCurve(curve, by) {
  const box = $("retention-chart");
  chart?.destroy();
  chart = null;
  fill(box);
  if (!window.uPlot || curve.length === 0) return;
  const x = curve.map((_, i) => i);
  chart = new window.uPlot({
    // As wide as the table above: the empty box itself is not laid out.
    width: Math.max(320, $("retention-result").clientWidth - 16),
    height: 200,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [
      { values: (_, ticks) => ticks.map((i) => (Number.isInteger(i) ? `${GRAIN[by]} ${i}` : "")) },
      { values: (_, ticks) => ticks.map((v) => `${v}%`), size: axisWidth },
    ],
    series: [
      { label: GRAIN[by], value: (_, i) => (i === null ? "" : `${GRAIN[by]} ${i}`) },
      { label: "Active", stroke: "#3b5bdb", width: 2, value: (_, v) => (v === null ? "" : `${Math.round(v)}%`) },
    ],
  }, [x, curve.map((share) => share * 100)], box);
}

/** The first event's inputs, when cohorts start from one. */
function drawFirst() {
  const shown = $("retention-first-kind").value === "event";
  fill($("retention-first"), shown ? conditionInputs(first, "First event", drawFirst) : null);
}

$("retention-first-kind").addEventListener("change", drawFirst);

$("retention-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const fromEvent = $("retention-first-kind").value === "event" && isComplete(first);
  navigateTo({
    retention: {
      by: $("retention-by").value,
      count: $("retention-count").value,
      first_event: fromEvent ? conditionText(cleanCondition(first)) : "",
    },
  });
});
