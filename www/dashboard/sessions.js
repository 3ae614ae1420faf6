// The session explorer: a page of sessions, newest first; one session's
// journey, its events in order.

import { el, fill, count, duration, localTime, valueText } from "./dom.js";
import { get, reportParams } from "./api.js";

const PER_PAGE = 25;
let page = 0;

export async function showSessions(view, pageNumber = page) {
  page = Math.max(0, pageNumber);
  document.getElementById("journey").hidden = true;
  document.getElementById("session-list").hidden = false;
  const list = await get("query/sessions", { ...reportParams(view), page, per_page: PER_PAGE });
  const rows = document.getElementById("session-rows");
  fill(rows, list.sessions.length === 0
    ? el("tr", {}, el("td", { colspan: 10, class: "none" }, "No sessions in this period"))
    : list.sessions.map((s) => el("tr", { class: "clickable", onclick: () => showJourney(view, s.id) },
      el("td", {}, localTime(s.start_ts, view.site.time_zone)),
      el("td", { class: "num" }, duration(s.duration_ms)),
      el("td", { class: "num" }, count(s.pageviews)),
      el("td", { class: "num" }, count(s.events)),
      el("td", {}, valueText(s.entry_path)),
      el("td", {}, valueText(s.exit_path)),
      el("td", {}, valueText(s.source)),
      el("td", {}, valueText(s.country)),
      el("td", {}, valueText(s.device)),
      el("td", {}, valueText(s.browser)),
    )));
  const pages = Math.max(1, Math.ceil(list.total / PER_PAGE));
  document.getElementById("page-info").textContent = `Page ${page + 1} of ${pages} (${count(list.total)} sessions)`;
  document.getElementById("prev-page").disabled = page === 0;
  document.getElementById("next-page").disabled = page + 1 >= pages;
}

export function pageBy(view, step) {
  return showSessions(view, page + step);
}

async function showJourney(view, id) {
  const journey = await get(`query/sessions/${encodeURIComponent(id)}`, { site: view.site.key });
  document.getElementById("session-list").hidden = true;
  document.getElementById("journey").hidden = false;
  document.getElementById("journey-title").textContent = `Session ${id}`;
  const s = journey.session;
  document.getElementById("journey-summary").textContent = s
    ? `${localTime(s.start_ts, view.site.time_zone)} · ${duration(s.duration_ms)} · ${s.pageviews} pageviews · ${s.bounce ? "bounced" : "engaged"}`
    : "";
  fill(document.getElementById("journey-steps"), journey.events.map((e) => el("li", {},
    el("span", { class: "time" }, localTime(e.ts, view.site.time_zone).slice(11)),
    el("strong", {}, e.name), " ", e.path,
    Object.keys(e.props).length ? el("span", { class: "props" }, JSON.stringify(e.props)) : null,
  )));
}
