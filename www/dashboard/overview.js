// The overview: totals with their change against the previous period (when
// the comparison is on), the time series, the goals' conversions, and
// breakdown tables whose rows add a filter when clicked; with a goal chosen,
// the tables of visit dimensions show its conversions per row.

import { el, fill, count, percent, duration, valueText, NONE } from "./dom.js";
import { get, csvLink, reportParams } from "./api.js";

const METRICS = [
  { key: "visitors", label: "Visitors", format: count },
  { key: "sessions", label: "Sessions", format: count },
  { key: "pageviews", label: "Pageviews", format: count },
  { key: "events", label: "Events", format: count },
  { key: "bounce_rate", label: "Bounce rate", format: percent, lowerIsBetter: true },
  { key: "avg_duration_ms", label: "Session duration", format: duration },
];

const PANELS = [
  { tabs: [["page", "Pages"], ["entry_page", "Entry pages"], ["exit_page", "Exit pages"]] },
  { tabs: [["source", "Sources"], ["referrer", "Referrers"], ["medium", "Medium"], ["utm_source", "UTM source"], ["utm_medium", "UTM medium"], ["utm_campaign", "UTM campaign"], ["utm_term", "UTM term"], ["utm_content", "UTM content"]] },
  { tabs: [["country", "Countries"], ["region", "Regions"], ["city", "Cities"]] },
  { tabs: [["device", "Devices"], ["browser", "Browsers"], ["os", "OS"]] },
  { tabs: [["event", "Events"]], properties: true },
];

const METRIC_NAMES = { sessions: "Sessions", pageviews: "Pageviews", events: "Events" };

let chart = null;

/** Draws the whole overview for `view` (see address.js). */
export async function showOverview(view, addFilter, navigate) {
  const params = reportParams(view);
  const overview = await get("query/overview", params);
  showTotals(overview, view.compare);
  showChart(overview, view.compare);
  const goals = overview.current.goals ?? [];
  showGoalFigures(goals, view, navigate);
  document.getElementById("export-overview").href = csvLink("query/overview", params);
  document.getElementById("export-sessions").href = csvLink("query/sessions", { ...params, per_page: 200 });
  const goal = goals.find((g) => g.id === view.goal);
  const panels = fill(document.getElementById("panels"));
  for (const spec of PANELS) panels.append(panel(spec, params, addFilter, goal));
}

function showTotals(overview, compare) {
  const now = overview.current.totals;
  const before = overview.previous.totals;
  const cards = METRICS.map((m) => el("div", { class: "total", dataset: { metric: m.key } },
    el("span", { class: "label" }, m.label),
    el("span", { class: "value" }, m.format(now[m.key])),
    compare && change(now[m.key], before[m.key], m.lowerIsBetter),
    compare && el("span", { class: "previous" }, `previous: ${m.format(before[m.key])}`),
  ));
  fill(document.getElementById("totals"), cards);
}

/** Each goal's converted visitors, events and rate; a choice of the goal the tables show. */
function showGoalFigures(goals, view, navigate) {
  const box = fill(document.getElementById("goal-figures"));
  if (!goals.length) return;
  const choice = el("select", { id: "table-goal", onchange: (e) => navigate({ goal: e.target.value }) },
    el("option", { value: "" }, "none"),
    goals.map((g) => el("option", { value: g.id, selected: g.id === view.goal }, g.name)));
  box.append(
    el("h2", {}, "Goals"),
    el("table", { class: "data", id: "goal-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Goal"), el("th", { class: "num" }, "Converted visitors"), el("th", { class: "num" }, "Events"), el("th", { class: "num" }, "Conversion rate"))),
      el("tbody", {}, goals.map((g) => el("tr", { dataset: { goal: g.id } },
        el("td", {}, g.name), el("td", { class: "num" }, count(g.conversions)), el("td", { class: "num" }, count(g.events)), el("td", { class: "num" }, percent(g.rate)))))),
    el("p", {}, el("label", { for: "table-goal" }, "Conversions of a goal in the tables below: "), choice),
  );
}

function change(now, before, lowerIsBetter) {
  if (!before) return el("span", { class: "change" }, now ? "new" : "–", " vs previous period");
  const delta = (now - before) / before;
  const better = lowerIsBetter ? delta < 0 : delta > 0;
  const sign = delta > 0 ? "+" : "";
  return el("span", { class: `change ${delta === 0 ? "" : better ? "up" : "down"}` }, `${sign}${Math.round(delta * 100)}% vs previous period`);
}

/** The y axis's width in pixels: its ticks, its gap and its longest label
 * in the axis's font (after uPlot's own axis-autosize example). */
export function axisWidth(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
  let size = axis.ticks.size + axis.gap;
  if (longest) {
    self.ctx.font = axis.font[0];
    size += self.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

function showChart(overview, compare) {
  const box = document.getElementById("chart");
  chart?.destroy();
  chart = null;
  if (!window.uPlot) {
    fill(box, "The chart library is missing: run `cargo xtask serve`, which copies it into www/dashboard/vendor/.");
    return;
  }
  fill(box);
  const series = overview.current.series;
  const hourly = overview.interval === "hour";
  const labels = series.map((p) => (hourly ? p.label.slice(11) : p.label.slice(5)));
  const x = series.map((_, i) => i);
  chart = new window.uPlot({
    width: Math.max(320, box.clientWidth - 16),
    height: 220,
    scales: { x: { time: false } },
    axes: [
      { values: (_, ticks) => ticks.map((i) => labels[i] ?? "") },
      // As wide as its longest label (uPlot's default cuts "10,000" to "0,000").
      { values: (_, ticks) => ticks.map((v) => v.toLocaleString()), size: axisWidth },
    ],
    series: [
      { label: hourly ? "Hour" : "Day", value: (_, i) => (i === null ? "" : series[i]?.label ?? "") },
      { label: "Visitors", stroke: "#3b5bdb", width: 2 },
      { label: "Pageviews", stroke: "#2b8a3e", width: 2 },
      compare && { label: "Visitors, previous period", stroke: "#adb5bd", dash: [4, 4] },
    ].filter(Boolean),
  }, [x, series.map((p) => p.visitors), series.map((p) => p.pageviews),
    ...(compare ? [overview.previous.series.map((p) => p.visitors).slice(0, x.length)] : [])], box);
}

function panel(spec, params, addFilter, goal) {
  const box = el("div", { class: "panel" });
  const tabs = el("div", { class: "panel-tabs" });
  const property = spec.properties ? el("input", { placeholder: "Property key (e.g. plan): its values for the events above", type: "search" }) : null;
  const table = el("table", { class: "data" });
  const exportLink = el("a", { download: true }, "CSV");
  let dimension = spec.tabs[0][0];

  async function load() {
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.dimension === dimension);
    const key = property?.value.trim();
    const shown = key ? `prop:${key}` : dimension;
    const query = { ...params, dimension: shown, limit: 10 };
    exportLink.href = csvLink("query/breakdown", { ...query, limit: 1000 });
    const breakdown = await get("query/breakdown", query);
    // Only breakdowns by a visit dimension (source, country, …) carry goals.
    const withGoal = goal && breakdown.rows.some((row) => row.goals);
    const goalOf = (row) => row.goals?.find((g) => g.id === goal.id) ?? { conversions: 0, rate: 0 };
    fill(table,
      el("thead", {}, el("tr", {}, el("th", {}, labelOf(spec, shown)), el("th", { class: "num" }, "Visitors"), el("th", { class: "num" }, METRIC_NAMES[breakdown.metric]),
        withGoal && [el("th", { class: "num" }, `${goal.name}: converted`), el("th", { class: "num" }, "Rate")])),
      el("tbody", {}, breakdown.rows.length === 0
        ? el("tr", {}, el("td", { colspan: withGoal ? 5 : 3, class: "none" }, "Nothing in this period"))
        : breakdown.rows.map((row) => el("tr", {
          class: "clickable", title: "Filter by this value",
          onclick: () => addFilter(shown, row.value ?? NONE),
        }, el("td", {}, valueText(row.value)), el("td", { class: "num" }, count(row.visitors)), el("td", { class: "num" }, count(row.count)),
        withGoal && [el("td", { class: "num" }, count(goalOf(row).conversions)), el("td", { class: "num" }, percent(goalOf(row).rate))]))),
    );
  }

  for (const [dim, label] of spec.tabs) {
    tabs.append(el("button", { dataset: { dimension: dim }, onclick: () => { dimension = dim; if (property) property.value = ""; load(); } }, label));
  }
  property?.addEventListener("change", load);
  box.append(tabs, property ?? "", table, el("p", { class: "export" }, exportLink));
  load();
  return box;
}

function labelOf(spec, dimension) {
  if (dimension.startsWith("prop:")) return `Property ${dimension.slice(5)}`;
  return spec.tabs.find(([d]) => d === dimension)?.[1] ?? dimension;
}
