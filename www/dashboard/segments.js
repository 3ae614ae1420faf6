// Segments: saved sets of conditions on visitors (a dimension's value, an
// event done or a page visited, at least N sessions, identified or not),
// all of them (AND) or any (OR). Built by clicking, saved, edited and
// deleted through `/api/segments`; the picker above the reports applies
// one to every report (`segment=ID`).

import { el, fill } from "./dom.js";
import { get, send } from "./api.js";
import { describeCondition, cleanCondition, isComplete, conditionInputs } from "./conditions.js";

const $ = (id) => document.getElementById(id);

/** The dimensions a segment's condition may name, as the API lists them. */
const DIMENSIONS = [["device", "Device"], ["browser", "Browser"], ["os", "OS"], ["country", "Country"], ["region", "Region"],
  ["source", "Source"], ["medium", "Medium"], ["utm_source", "UTM source"], ["utm_medium", "UTM medium"], ["utm_campaign", "UTM campaign"],
  ["utm_term", "UTM term"], ["utm_content", "UTM content"], ["entry_page", "Entry page"], ["page", "Page"]];

const KINDS = [["dimension", "Dimension is"], ["did", "Did"], ["sessions", "Sessions, at least"], ["identified", "Identified"]];

/** A fresh condition of each kind, as the API takes it. */
const FRESH = {
  dimension: () => ({ kind: "dimension", dimension: "device", value: "" }),
  did: () => ({ kind: "did", condition: { kind: "event", name: "" } }),
  sessions: () => ({ kind: "sessions", at_least: 2 }),
  identified: () => ({ kind: "identified", identified: true }),
};

let saved = [];
/**
 * The segment being edited on each site (by key), its id when it is saved
 * already: kept while the dashboard is open, so drawing the view again
 * (another tab, another site, and back) keeps what was entered.
 */
const drafts = new Map();
/** The shown site's draft. */
let draft = blank();
let current = null;
let navigateTo = null;

function blank() {
  return { id: null, name: "", match: "all", conditions: [FRESH.dimension()] };
}

/** Fills the segment picker with the site's segments. */
export async function loadSegments(view) {
  saved = await get("segments", { site: view.site.key });
  fill($("segment"), el("option", { value: "" }, "Everyone"), saved.map((s) => el("option", { value: s.id }, s.name)));
  $("segment").value = view.segment;
}

/** Whether the site (as last loaded) has segment `id`. */
export function hasSegment(id) {
  return saved.some((s) => s.id === id);
}

export async function showSegments(view, navigate) {
  current = view;
  navigateTo = navigate;
  draft = drafts.get(view.site.key) ?? blank();
  drafts.set(view.site.key, draft);
  await loadSegments(view);
  fill($("segment-rows"), saved.length === 0
    ? el("tr", {}, el("td", { colspan: 3, class: "none" }, "No segments yet", el("span", { class: "admin-only" }, ": build one below")))
    : saved.map((s) => el("tr", { dataset: { segment: s.id } },
      el("td", {}, s.name),
      el("td", {}, describeSegment(s)),
      el("td", { class: "actions" },
        el("button", { type: "button", "aria-label": `Apply ${s.name} to the reports`, onclick: () => navigate({ segment: s.id, tab: "overview" }) }, "Apply"),
        el("button", { type: "button", class: "admin-only", "aria-label": `Edit ${s.name}`, onclick: () => edit(s) }, "Edit"),
        el("button", { type: "button", class: "admin-only", "aria-label": `Delete ${s.name}`, onclick: () => remove(s) }, "Delete")),
    )));
  drawForm();
}

/** "device is mobile AND did signup". */
export function describeSegment(segment) {
  const joiner = segment.match === "any" ? " OR " : " AND ";
  return segment.conditions.map((c) => {
    if (c.kind === "dimension") return `${DIMENSIONS.find(([d]) => d === c.dimension)?.[1] ?? c.dimension} is ${c.value}`;
    if (c.kind === "did") return `did ${describeCondition(c.condition).replace(/^Viewed/, "view")}`;
    if (c.kind === "sessions") return `at least ${c.at_least} sessions`;
    return c.identified ? "identified" : "not identified";
  }).join(joiner);
}

/** Puts `segment` in the form, as the shown site's draft. */
function begin(segment) {
  draft = segment;
  drafts.set(current.site.key, draft);
  drawForm();
}

function edit(segment) {
  begin(structuredClone({ id: segment.id, name: segment.name, match: segment.match ?? "all", conditions: segment.conditions }));
  $("segment-name").focus();
}

function drawForm() {
  $("segment-form-title").textContent = draft.id ? `Edit ${draft.name}` : "New segment";
  $("save-segment").textContent = draft.id ? "Save changes" : "Save segment";
  $("segment-name").value = draft.name;
  $("segment-match").value = draft.match;
  drawConditions();
}

function drawConditions() {
  fill($("segment-conditions"), draft.conditions.map((c, i) => el("li", { class: "step" },
    el("select", {
      "aria-label": `Condition ${i + 1}: kind`,
      onchange: (e) => { draft.conditions[i] = FRESH[e.target.value](); drawConditions(); },
    }, KINDS.map(([kind, label]) => el("option", { value: kind, selected: c.kind === kind }, label))),
    inputsOf(c, `Condition ${i + 1}`),
    el("button", { type: "button", class: "quiet", "aria-label": `Remove condition ${i + 1}`, onclick: () => { draft.conditions.splice(i, 1); drawConditions(); } }, "Remove"),
  )));
}

function inputsOf(c, label) {
  if (c.kind === "dimension") {
    return [
      el("select", { "aria-label": `${label}: dimension`, onchange: (e) => { c.dimension = e.target.value; } },
        DIMENSIONS.map(([d, name]) => el("option", { value: d, selected: c.dimension === d }, name))),
      el("input", { value: c.value, placeholder: "mobile", "aria-label": `${label}: value`, oninput: (e) => { c.value = e.target.value; } }),
    ];
  }
  if (c.kind === "did") return conditionInputs(c.condition, label, drawConditions);
  if (c.kind === "sessions") {
    return el("input", { type: "number", min: 1, value: c.at_least, "aria-label": `${label}: sessions`, oninput: (e) => { c.at_least = Number(e.target.value); } });
  }
  return el("select", { "aria-label": `${label}: identified`, onchange: (e) => { c.identified = e.target.value === "yes"; } },
    el("option", { value: "yes", selected: c.identified }, "yes (has a user id)"), el("option", { value: "no", selected: !c.identified }, "no"));
}

/** A condition as the API takes it, or null while it names nothing to look for. */
function sent(c) {
  if (c.kind === "dimension") return c.value.trim() ? { ...c, value: c.value.trim() } : null;
  if (c.kind === "did") return isComplete(c.condition) ? { kind: "did", condition: cleanCondition(c.condition) } : null;
  return c;
}

/** The draft as the API takes it, incomplete conditions left out. */
function body() {
  return { name: $("segment-name").value.trim(), match: $("segment-match").value, conditions: draft.conditions.map(sent).filter(Boolean) };
}

$("add-condition").addEventListener("click", () => {
  draft.conditions.push(FRESH.dimension());
  drawConditions();
});
$("new-segment").addEventListener("click", () => begin(blank()));
$("segment-name").addEventListener("input", (e) => { draft.name = e.target.value; });
$("segment-match").addEventListener("change", (e) => { draft.match = e.target.value; });

$("segment-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const site = encodeURIComponent(current.site.key);
  const answer = await act(() => (draft.id
    ? send("PUT", `segments/${encodeURIComponent(draft.id)}?site=${site}`, body())
    : send("POST", `segments?site=${site}`, body())));
  if (!answer) return;
  $("segments-status").textContent = `Saved ${answer.name}.`;
  drafts.delete(current.site.key);
  await showSegments(current, navigateTo);
});

async function remove(segment) {
  if (!confirm(`Delete the segment ${segment.name}?`)) return;
  if (!(await act(() => send("DELETE", `segments/${encodeURIComponent(segment.id)}?site=${encodeURIComponent(current.site.key)}`)))) return;
  $("segments-status").textContent = `Deleted ${segment.name}.`;
  // A report still showing the deleted segment shows everyone again.
  if (current.segment === segment.id) navigateTo({ segment: "" });
  else await showSegments(current, navigateTo);
}

/** Runs a change; its refusal's message is said under the form. */
async function act(request) {
  $("segments-error").textContent = "";
  $("segments-status").textContent = "";
  try {
    return (await request()) ?? true;
  } catch (err) {
    $("segments-error").textContent = err.message;
    return null;
  }
}
