// Goals: what counts as a conversion on this site (a page viewed, matched
// by a path pattern, or an event sent, with an optional property value).
// Listed with their converted visitors, events and rate in the period;
// admins add and remove them (`/api/goals`).

import { el, fill, count, percent } from "./dom.js";
import { get, send, reportParams } from "./api.js";
import { describeCondition, cleanCondition } from "./conditions.js";

const $ = (id) => document.getElementById(id);
let current = null;

export async function showGoals(view) {
  current = view;
  const [goals, overview] = await Promise.all([
    get("goals", { site: view.site.key }),
    get("query/overview", reportParams(view)),
  ]);
  const figures = new Map((overview.current.goals ?? []).map((g) => [g.id, g]));
  fill($("goal-rows"), goals.length === 0
    ? el("tr", {}, el("td", { colspan: 6, class: "none" }, "No goals yet", el("span", { class: "admin-only" }, ": add one below")))
    : goals.map((g) => {
      const f = figures.get(g.id) ?? { conversions: 0, events: 0, rate: 0 };
      return el("tr", { dataset: { goal: g.id } },
        el("td", {}, g.name),
        el("td", {}, describeCondition(g.condition)),
        el("td", { class: "num" }, count(f.conversions)),
        el("td", { class: "num" }, count(f.events)),
        el("td", { class: "num" }, percent(f.rate)),
        el("td", {}, el("button", { type: "button", class: "admin-only", "aria-label": `Delete the goal ${g.name}`, onclick: () => remove(g) }, "Delete")));
    }));
}

async function remove(goal) {
  if (!confirm(`Delete the goal ${goal.name}?`)) return;
  await act(() => send("DELETE", `goals/${encodeURIComponent(goal.id)}?site=${encodeURIComponent(current.site.key)}`));
}

/** Runs a change, says what went wrong if anything, and lists the goals again. */
async function act(request) {
  $("goals-error").textContent = "";
  try {
    await request();
    return true;
  } catch (err) {
    $("goals-error").textContent = err.message;
    return false;
  } finally {
    await showGoals(current);
  }
}

function showKindInputs() {
  const kind = $("goal-kind").value;
  for (const label of $("goal-form").querySelectorAll("[data-goal]")) label.hidden = label.dataset.goal !== kind;
}

$("goal-kind").addEventListener("change", showKindInputs);

$("goal-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target.elements;
  const condition = form.kind.value === "page"
    ? cleanCondition({ kind: "page", pattern: form.pattern.value })
    : cleanCondition({ kind: "event", name: form.event.value, property: form.property.value, value: form.value.value });
  const added = await act(() => send("POST", `goals?site=${encodeURIComponent(current.site.key)}`, { name: form.name.value.trim(), condition }));
  if (added) {
    e.target.reset();
    showKindInputs();
  }
});
