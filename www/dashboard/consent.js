// The consent log: every consent decision of the period, newest first, of
// one visitor when a visitor id is given; when, which categories, on which
// page, under which banner version, and the properties as sent. A decision
// sent without ids (a denial before any grant) shows the collector's daily
// key, marked "no ids".

import { el, fill, count, localTime, valueText } from "./dom.js";
import { get, csvLink } from "./api.js";

const PER_PAGE = 50;
let page = 0;
let visitor = "";

export async function showConsent(view, pageNumber = page) {
  page = Math.max(0, pageNumber);
  const params = { site: view.site.key, from: view.from, to: view.to, visitor };
  document.getElementById("export-consent").href = csvLink("query/consent", { ...params, per_page: 10000 });
  const log = await get("query/consent", { ...params, page, per_page: PER_PAGE });
  fill(document.getElementById("consent-rows"), log.records.length === 0
    ? el("tr", {}, el("td", { colspan: 6, class: "none" }, "No consent decisions in this period"))
    : log.records.map((r) => el("tr", { dataset: { visitor: r.visitor_id } },
      el("td", {}, localTime(r.ts, view.site.time_zone)),
      el("td", {},
        el("button", { class: "quiet visitor", title: "Only this visitor's decisions", onclick: () => byVisitor(view, r.visitor_id) }, r.visitor_id),
        r.cookieless ? el("span", { class: "none", title: "Sent without ids: the collector's daily key" }, " no ids") : null),
      el("td", { class: "decisions" }, Object.entries(r.decisions).map(([category, decision]) =>
        el("span", { class: `decision ${decision}` }, `${category}: ${decision}`))),
      el("td", { class: "version" }, valueText(r.version)),
      el("td", { class: "page", title: r.url }, r.path),
      el("td", { class: "props" }, JSON.stringify(r.props)),
    )));
  const pages = Math.max(1, Math.ceil(log.total / PER_PAGE));
  document.getElementById("consent-page-info").textContent = `Page ${page + 1} of ${pages} (${count(log.total)} decisions)`;
  document.getElementById("consent-prev").disabled = page === 0;
  document.getElementById("consent-next").disabled = page + 1 >= pages;
}

export function consentPageBy(view, step) {
  return showConsent(view, page + step);
}

/** Only `id`'s decisions, or everyone's for an empty id. */
export function byVisitor(view, id) {
  visitor = id.trim();
  document.getElementById("consent-visitor").value = visitor;
  return showConsent(view, 0);
}
