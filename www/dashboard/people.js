// People: everyone active in the period (a user id joins every visitor
// linked to it, across devices), searchable by user id; one person's
// journey, their visits on every device in time order, each with its
// events. The person shown is in the address (`people.user` or
// `people.visitor`), so a journey can be shared.

import { el, fill, count, duration, localTime, valueText } from "./dom.js";
import { get, csvLink, reportParams } from "./api.js";

const $ = (id) => document.getElementById(id);
let navigateTo = null;
let current = null;

export async function showPeople(view, navigate) {
  navigateTo = navigate;
  current = view;
  const { user, visitor } = view.people;
  if (user || visitor) return showJourney(view, user, visitor);
  $("person").hidden = true;
  $("people-list").hidden = false;
  $("people-query").value = view.people.search;
  const params = { ...reportParams(view), search: view.people.search };
  $("export-people").href = csvLink("query/people", { ...params, per_page: 10000 });
  const list = await get("query/people", { ...params, per_page: 100 });
  fill($("people-rows"), list.people.length === 0
    ? el("tr", {}, el("td", { colspan: 6, class: "none" }, "No people in this period"))
    : list.people.map((p) => el("tr", { dataset: { person: p.key } },
      el("td", {}, el("button", {
        class: "link", type: "button",
        onclick: () => navigate({ people: { ...view.people, user: p.user_id ?? "", visitor: p.user_id ? "" : p.visitors[0] } }),
      }, p.user_id ?? `visitor ${p.visitors[0].slice(0, 8)}`)),
      el("td", {}, localTime(p.first_seen_ms, view.site.time_zone)),
      el("td", {}, localTime(p.last_seen_ms, view.site.time_zone)),
      el("td", { class: "num" }, count(p.sessions)),
      el("td", {}, p.devices.join(", ")),
      el("td", {}, p.countries.join(", ")),
    )));
  $("people-info").textContent = `${count(list.total)} ${list.total === 1 ? "person" : "people"}` +
    (list.total > list.people.length ? `, the first ${list.people.length} shown` : "");
}

async function showJourney(view, user, visitor) {
  const journey = await get("query/people/journey", { site: view.site.key, user, visitor });
  $("people-list").hidden = true;
  $("person").hidden = false;
  const tz = view.site.time_zone;
  $("person-title").textContent = user ? `User ${user}` : `Visitor ${visitor}`;
  const devices = new Set(journey.visits.map((v) => v.device ?? "unknown device"));
  $("person-summary").textContent = journey.visits.length === 0
    ? "No visits kept for this person."
    : `${journey.visits.length} ${journey.visits.length === 1 ? "visit" : "visits"} on ${devices.size} ${devices.size === 1 ? "device" : "devices"}, ` +
      `${journey.visitors.length} ${journey.visitors.length === 1 ? "visitor id" : "visitor ids"}, ` +
      `from ${localTime(journey.first_seen_ms, tz)} to ${localTime(journey.last_seen_ms, tz)}`;
  fill($("person-visits"), journey.visits.map((v) => el("li", { class: "visit", dataset: { visitor: v.visitor_id } },
    el("h3", {},
      el("span", { class: "device" }, [v.device, v.browser, v.os].filter(Boolean).join(" · ") || "unknown device"), " ",
      el("span", { class: "time" }, localTime(v.start_ts, tz)), " ",
      el("span", { class: "muted" }, `${duration(v.duration_ms)} · ${v.pageviews} pageviews`, v.country ? ` · ${v.country}` : "", v.source ? ` · from ${v.source}` : "")),
    el("ol", { class: "journey" }, v.events.map((e) => el("li", {},
      el("span", { class: "time" }, localTime(e.ts, tz).slice(11)),
      el("strong", {}, e.name), " ", el("span", { class: "path" }, valueText(e.path)),
      propsText(e.props) && el("span", { class: "props" }, propsText(e.props)),
    ))),
  )));
}

function propsText(props) {
  const text = typeof props === "string" ? props : JSON.stringify(props ?? {});
  return text === "{}" ? "" : text;
}

$("people-search").addEventListener("submit", (e) => {
  e.preventDefault();
  navigateTo({ people: { search: $("people-query").value.trim(), user: "", visitor: "" } });
});
$("back-to-people").addEventListener("click", () => navigateTo({ people: { ...current.people, user: "", visitor: "" } }));
