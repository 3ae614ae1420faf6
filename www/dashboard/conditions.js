// What a funnel step, a goal, a cohort's first event and a segment's
// behaviour look for: a pageview whose path matches a pattern, or an event
// by name with an optional property value. One shape (the API's JSON
// condition), written as the API's text form in addresses (`page:/pricing`,
// `event:signup`, `event:signup:plan=pro`), described once for people, and
// edited by one set of inputs.

import { el } from "./dom.js";

/** `{kind: "page", pattern}` or `{kind: "event", name, property?, value?}` as `page:…`/`event:…`. */
export function conditionText(c) {
  if (c.kind === "page") return `page:${c.pattern}`;
  return c.property ? `event:${c.name}:${c.property}=${c.value ?? ""}` : `event:${c.name}`;
}

/** The condition a `page:…`/`event:…` text names. */
export function parseCondition(text) {
  if (text.startsWith("page:")) return { kind: "page", pattern: text.slice("page:".length) };
  const rest = text.startsWith("event:") ? text.slice("event:".length) : text;
  const colon = rest.indexOf(":");
  if (colon < 0) return { kind: "event", name: rest };
  const [property, ...value] = rest.slice(colon + 1).split("=");
  return { kind: "event", name: rest.slice(0, colon), property, value: value.join("=") };
}

/** "Viewed /pricing", "signup where plan = pro". */
export function describeCondition(c) {
  if (c.kind === "page") return `Viewed ${c.pattern}`;
  return c.property ? `${c.name} where ${c.property} = ${c.value}` : c.name;
}

/** The condition as the API takes it: no empty property, nothing extra. */
export function cleanCondition(c) {
  if (c.kind === "page") return { kind: "page", pattern: c.pattern.trim() };
  const event = { kind: "event", name: c.name.trim() };
  if (c.property?.trim()) Object.assign(event, { property: c.property.trim(), value: (c.value ?? "").trim() });
  return event;
}

/** Whether the condition names something to look for. */
export function isComplete(c) {
  return c.kind === "page" ? c.pattern.trim() !== "" : c.name.trim() !== "";
}

/**
 * The inputs that edit `c` in place: a kind choice, then a page pattern, or
 * an event name with an optional property and value. `label` names the
 * inputs for screen readers ("Step 2"); `onKind` redraws after a kind change.
 */
export function conditionInputs(c, label, onKind) {
  const input = (key, placeholder, name) => el("label", {}, name, " ",
    el("input", { value: c[key] ?? "", placeholder, "aria-label": `${label}: ${name}`, oninput: (e) => { c[key] = e.target.value; } }));
  const kind = el("select", {
    "aria-label": `${label}: page or event`,
    onchange: (e) => {
      for (const key of Object.keys(c)) delete c[key];
      Object.assign(c, e.target.value === "page" ? { kind: "page", pattern: "" } : { kind: "event", name: "" });
      onKind();
    },
  }, el("option", { value: "page", selected: c.kind === "page" }, "Page viewed"), el("option", { value: "event", selected: c.kind === "event" }, "Event"));
  return c.kind === "page"
    ? [kind, input("pattern", "/pricing or /blog/*", "path")]
    : [kind, input("name", "signup", "name"), input("property", "optional", "property"), input("value", "", "equals")];
}
