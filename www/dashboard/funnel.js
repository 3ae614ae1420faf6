// Funnels: steps built by clicking (a page pattern, or an event with an
// optional property value; added, removed, moved), within one session or a
// number of days, in strict or loose order, counting visitors or people,
// optionally broken down by a dimension. "Show the funnel" puts the funnel
// in the address; the chart and table are drawn from the address alone, so
// a reload or a shared link shows the same funnel.

import { el, fill, count, percent, duration, valueText } from "./dom.js";
import { get, csvLink, reportParams } from "./api.js";
import { conditionText, parseCondition, describeCondition, cleanCondition, isComplete, conditionInputs } from "./conditions.js";

const $ = (id) => document.getElementById(id);

/** The dimensions a funnel may be broken down by. */
const BREAKDOWNS = [["", "none"], ["source", "Source"], ["medium", "Medium"], ["utm_campaign", "UTM campaign"], ["entry_page", "Entry page"],
  ["country", "Country"], ["device", "Device"], ["browser", "Browser"], ["os", "OS"]];

/** The steps being edited, not yet shown. */
let draft = [];
let navigateTo = null;

export async function showFunnel(view, navigate) {
  navigateTo = navigate;
  const f = view.funnel;
  draft = f.steps.length ? f.steps.map(parseCondition) : [{ kind: "page", pattern: "/" }, { kind: "page", pattern: "" }];
  drawSteps();
  const days = /^\d+$/.test(f.within);
  $("funnel-within-kind").value = days ? "days" : "session";
  $("funnel-days").value = days ? f.within : "7";
  $("funnel-days-choice").hidden = !days;
  $("funnel-order").value = f.order;
  $("funnel-count").value = f.count;
  fill($("funnel-breakdown"), BREAKDOWNS.map(([value, label]) => el("option", { value, selected: value === f.breakdown }, label)));

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

/** One row of inputs per step, with buttons to move and remove it. */
function drawSteps() {
  fill($("funnel-steps"), draft.map((step, i) => el("li", { class: "step" },
    conditionInputs(step, `Step ${i + 1}`, drawSteps),
    el("button", { type: "button", class: "quiet", "aria-label": `Move step ${i + 1} up`, disabled: i === 0, onclick: () => move(i, -1) }, "↑"),
    el("button", { type: "button", class: "quiet", "aria-label": `Move step ${i + 1} down`, disabled: i === draft.length - 1, onclick: () => move(i, 1) }, "↓"),
    el("button", { type: "button", class: "quiet", "aria-label": `Remove step ${i + 1}`, onclick: () => { draft.splice(i, 1); drawSteps(); } }, "Remove"),
  )));
}

function move(i, by) {
  [draft[i], draft[i + by]] = [draft[i + by], draft[i]];
  drawSteps();
}

$("add-step").addEventListener("click", () => {
  draft.push({ kind: "page", pattern: "" });
  drawSteps();
  $("funnel-steps").lastElementChild.querySelector("input").focus();
});

$("funnel-within-kind").addEventListener("change", (e) => { $("funnel-days-choice").hidden = e.target.value !== "days"; });

$("funnel-form").addEventListener("submit", (e) => {
  e.preventDefault();
  navigateTo({
    funnel: {
      steps: draft.filter(isComplete).map((c) => conditionText(cleanCondition(c))),
      within: $("funnel-within-kind").value === "days" ? String($("funnel-days").value) : "session",
      order: $("funnel-order").value,
      count: $("funnel-count").value,
      breakdown: $("funnel-breakdown").value,
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
