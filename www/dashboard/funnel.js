// Funnels: steps built by clicking (a page pattern, or an event with an
// optional property value; added, removed, moved), within one session or a
// number of days, in strict or loose order, counting visitors or people,
// optionally broken down by a dimension. "Show the funnel" puts the funnel
// in the address; the chart and table are drawn from the address alone, so
// a reload or a shared link shows the same funnel. What the builder holds
// before that is kept apart from the address, so that drawing the view
// again (another period, segment or tab and back) keeps it.

import { el, fill, count, percent, duration, valueText } from "./dom.js";
import { get, csvLink, reportParams } from "./api.js";
import { conditionText, parseCondition, describeCondition, cleanCondition, isComplete, conditionInputs } from "./conditions.js";

const $ = (id) => document.getElementById(id);

/** The dimensions a funnel may be broken down by. */
const BREAKDOWNS = [["", "none"], ["source", "Source"], ["medium", "Medium"], ["utm_campaign", "UTM campaign"], ["entry_page", "Entry page"],
  ["country", "Country"], ["device", "Device"], ["browser", "Browser"], ["os", "OS"]];

/**
 * The steps and settings being edited, not yet shown: begun from the
 * funnel the address shows and kept while it shows that one; an address
 * naming another (back, forward, a link, the form sent) begins it again.
 */
let draft = null;
/** The address's funnel (`funnelKey`) that the draft was begun from. */
let draftOf = null;
let navigateTo = null;

export async function showFunnel(view, navigate) {
  navigateTo = navigate;
  const f = view.funnel;
  if (funnelKey(f) !== draftOf) [draft, draftOf] = [begin(f), funnelKey(f)];
  drawSteps();
  drawSettings();

  const result = $("funnel-result");
  if (f.steps.length < 2) {
    fill(result, el("p", { class: "none" }, "Add two steps or more and show the funnel."));
    return;
  }
  const params = { ...reportParams(view), step: f.steps, within: f.within, order: f.order, count: f.count, breakdown: f.breakdown };
  const funnel = await get("query/funnel", params);
  const unit = f.count === "people" ? "people" : "visitors";
  fill(result,
    el("h2", {}, `Funnel of ${unit}`),
    chart(funnel.total.steps, unit),
    table(funnel.total.steps),
    funnel.breakdown?.length ? breakdownTable(funnel, BREAKDOWNS.find(([d]) => d === f.breakdown)?.[1] ?? f.breakdown) : null,
    el("p", { class: "export" }, el("a", { download: true, href: csvLink("query/funnel", params) }, "Export as CSV")),
  );
}

/** A funnel of the address, as one comparable value. */
function funnelKey(f) {
  return JSON.stringify([f.steps, f.within, f.order, f.count, f.breakdown]);
}

/** The builder's contents for the address's funnel `f`; with no steps, the home page and one to fill in. */
function begin(f) {
  const days = /^\d+$/.test(f.within);
  return {
    steps: f.steps.length ? f.steps.map(parseCondition) : [{ kind: "page", pattern: "/" }, { kind: "page", pattern: "" }],
    within: days ? "days" : "session",
    days: days ? f.within : "7",
    order: f.order,
    count: f.count,
    breakdown: f.breakdown,
  };
}

/** One row of inputs per step, with buttons to move and remove it. */
function drawSteps() {
  const steps = draft.steps;
  fill($("funnel-steps"), steps.map((step, i) => el("li", { class: "step" },
    conditionInputs(step, `Step ${i + 1}`, drawSteps),
    el("button", { type: "button", class: "quiet", "aria-label": `Move step ${i + 1} up`, disabled: i === 0, onclick: () => move(i, -1) }, "↑"),
    el("button", { type: "button", class: "quiet", "aria-label": `Move step ${i + 1} down`, disabled: i === steps.length - 1, onclick: () => move(i, 1) }, "↓"),
    el("button", { type: "button", class: "quiet", "aria-label": `Remove step ${i + 1}`, onclick: () => { steps.splice(i, 1); drawSteps(); } }, "Remove"),
  )));
}

/** Within, order, count and breakdown as the draft has them. */
function drawSettings() {
  $("funnel-within-kind").value = draft.within;
  $("funnel-days").value = draft.days;
  $("funnel-days-choice").hidden = draft.within !== "days";
  $("funnel-order").value = draft.order;
  $("funnel-count").value = draft.count;
  fill($("funnel-breakdown"), BREAKDOWNS.map(([value, label]) => el("option", { value, selected: value === draft.breakdown }, label)));
}

function move(i, by) {
  const steps = draft.steps;
  [steps[i], steps[i + by]] = [steps[i + by], steps[i]];
  drawSteps();
}

$("add-step").addEventListener("click", () => {
  draft.steps.push({ kind: "page", pattern: "" });
  drawSteps();
  $("funnel-steps").lastElementChild.querySelector("input").focus();
});

$("funnel-within-kind").addEventListener("change", (e) => {
  draft.within = e.target.value;
  $("funnel-days-choice").hidden = draft.within !== "days";
});
$("funnel-days").addEventListener("input", (e) => { draft.days = e.target.value; });
for (const [id, key] of [["funnel-order", "order"], ["funnel-count", "count"], ["funnel-breakdown", "breakdown"]]) {
  $(id).addEventListener("change", (e) => { draft[key] = e.target.value; });
}

$("funnel-form").addEventListener("submit", (e) => {
  e.preventDefault();
  // The funnel shown next is the address's, incomplete steps left out.
  draftOf = null;
  navigateTo({
    funnel: {
      steps: draft.steps.filter(isComplete).map((c) => conditionText(cleanCondition(c))),
      within: draft.within === "days" ? String(draft.days) : "session",
      order: draft.order,
      count: draft.count,
      breakdown: draft.breakdown,
    },
  });
});

/** A bar per step, as long as its share of the first step, with what dropped before it. */
function chart(steps, unit) {
  return el("ol", { class: "funnel-chart", "aria-label": "Funnel chart" }, steps.map((s, i) => el("li", {},
    el("span", { class: "funnel-label" }, `${i + 1}. ${describeCondition(s.step)}`),
    el("span", { class: "funnel-bar-track" },
      el("span", { class: "funnel-bar", style: `width: ${Math.max(0.5, s.from_first * 100)}%` })),
    el("span", { class: "funnel-figure" }, `${count(s.reached)} ${unit} (${percent(s.from_first)})`,
      i > 0 && s.dropped > 0 ? el("span", { class: "dropped" }, ` −${count(s.dropped)} dropped`) : null),
  )));
}

function table(steps) {
  return el("table", { class: "data", id: "funnel-table" },
    el("thead", {}, el("tr", {}, ["Step", "Reached", "From previous", "From first", "Dropped", "Median time to convert"]
      .map((h, i) => el("th", { class: i ? "num" : null }, h)))),
    el("tbody", {}, steps.map((s, i) => el("tr", { dataset: { step: i + 1 } },
      el("td", {}, `${i + 1}. ${describeCondition(s.step)}`),
      el("td", { class: "num" }, count(s.reached)),
      el("td", { class: "num" }, percent(s.from_previous)),
      el("td", { class: "num" }, percent(s.from_first)),
      el("td", { class: "num" }, count(s.dropped)),
      el("td", { class: "num" }, i === 0 || s.median_ms == null ? "–" : duration(s.median_ms)),
    ))));
}

/** Per value of the breakdown: who reached each step, and the share of the first. */
function breakdownTable(funnel, label) {
  const steps = funnel.total.steps;
  return [
    el("h2", {}, `By ${label.toLowerCase()}`),
    el("table", { class: "data", id: "funnel-breakdown-table" },
      el("thead", {}, el("tr", {}, el("th", {}, label), steps.map((s, i) => el("th", { class: "num" }, `${i + 1}. ${describeCondition(s.step)}`)))),
      el("tbody", {}, funnel.breakdown.map((b) => el("tr", {},
        el("td", {}, valueText(b.value)),
        b.steps.map((s, i) => el("td", { class: "num" }, count(s.reached), i > 0 ? ` (${percent(s.from_first)})` : ""))))),
    ),
  ];
}
