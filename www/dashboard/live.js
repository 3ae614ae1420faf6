// The live view and the installation checker, both fed by one server-sent
// event stream per site (`/api/live`): each stored event, each refusal.

import { el, fill, count, localTime, valueText } from "./dom.js";
import { get } from "./api.js";

const KEPT = 100;
let source = null;
let refresh = null;

/** Starts listening to `site`; stops listening to the previous one. */
export function connectLive(site) {
  source?.close();
  fill(document.getElementById("live-stream"));
  fill(document.getElementById("check-log"));
  document.getElementById("snippet").textContent =
    `<script defer src="${location.origin}/waymark.js" data-site="${site.key}"></script>`;
  refreshCounter(site);
  source = new EventSource(`/api/live?site=${encodeURIComponent(site.key)}`);
  source.addEventListener("stored", (e) => {
    const { event } = JSON.parse(e.data);
    addToStream(event, site);
    addToCheck("stored", event.name, "Stored: valid, enriched and committed", fields(event), site);
    scheduleRefresh(site);
  });
  source.addEventListener("duplicate", (e) => {
    const m = JSON.parse(e.data);
    addToCheck("duplicate", m.id, "Duplicate: already stored, counted once", { id: m.id }, site);
  });
  source.addEventListener("rejected", (e) => {
    const m = JSON.parse(e.data);
    addToCheck("rejected", `event ${m.index}`, `Refused (${m.reason}): ${m.message}`, { id: m.id, reason: m.reason }, site);
  });
  source.addEventListener("session_started", (e) => {
    const m = JSON.parse(e.data);
    addToCheck("stored", "session started", "A new session began", { session_id: m.session_id, visitor_id: m.visitor_id }, site);
  });
}

export function disconnectLive() {
  source?.close();
  source = null;
}

async function refreshCounter(site) {
  const realtime = await get("query/realtime", { site: site.key });
  document.getElementById("live-visitors").textContent = count(realtime.active_visitors);
  document.getElementById("live-events").textContent = count(realtime.minutes.reduce((n, m) => n + m.events, 0));
}

/** At most one realtime query a second, however busy the stream is. */
function scheduleRefresh(site) {
  if (refresh) return;
  refresh = setTimeout(() => { refresh = null; refreshCounter(site).catch(() => {}); }, 1000);
}

function addToStream(event, site) {
  const rows = document.getElementById("live-stream");
  rows.prepend(el("tr", { dataset: { name: event.name } },
    el("td", {}, localTime(event.ts, site.time_zone).slice(11)),
    el("td", { class: "event-name" }, event.name),
    el("td", {}, event.path),
    el("td", {}, event.visitor_id.slice(0, 8)),
  ));
  while (rows.children.length > KEPT) rows.lastElementChild.remove();
}

/** What the collector stored, minus what every row has. */
function fields(event) {
  const shown = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "site" || value === null || value === "" || value === "{}") continue;
    shown[key] = key === "ts" || key === "received_ms" ? `${localTime(value, "UTC")} UTC` : value;
  }
  return shown;
}

function addToCheck(kind, title, verdict, details, site) {
  const log = document.getElementById("check-log");
  log.prepend(el("li", { class: kind },
    el("strong", {}, title), " — ", el("span", { class: "verdict" }, verdict),
    el("span", { class: "none" }, ` (${localTime(Date.now(), site.time_zone).slice(11)})`),
    el("dl", {}, Object.entries(details).map(([k, v]) => [el("dt", {}, k), el("dd", {}, valueText(typeof v === "object" ? JSON.stringify(v) : v))])),
  ));
  while (log.children.length > KEPT) log.lastElementChild.remove();
}
