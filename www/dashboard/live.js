// The live view and the installation checker. The checker reads the
// site's whole stream (`/api/live?site=…`): each stored event, each
// refusal. The live view shows that stream's stored events too, unless a
// segment is picked: then, while the live tab is open, it reads the
// segment's own stream (`&segment=ID`), which carries only its members'
// events (who is a member live: `collector/src/live/segment.rs`), and its
// counters count the members too (`/api/query/realtime?segment=ID`).

import { el, fill, count, localTime, valueText } from "./dom.js";
import { get } from "./api.js";

const KEPT = 100;
const $ = (id) => document.getElementById(id);
let source = null;
let segmentSource = null;
/** The segment whose events the live table holds: "" everyone, null none yet. */
let shown = "";
let refresh = null;

/** Starts listening to `site`; stops listening to the previous one. */
export function connectLive(site) {
  source?.close();
  closeSegment();
  fill($("live-stream"));
  fill($("check-log"));
  shown = "";
  describe(null);
  $("snippet").textContent =
    `<script defer src="${location.origin}/waymark.js" data-site="${site.key}"></script>`;
  refreshCounter(site).catch(() => {});
  source = new EventSource(`/api/live?site=${encodeURIComponent(site.key)}`);
  source.addEventListener("stored", (e) => {
    const { event } = JSON.parse(e.data);
    addToCheck("stored", event.name, "Stored: valid, enriched and committed", fields(event), site);
    if (shown !== "") return;
    addToStream(event, site);
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
  closeSegment();
}

/**
 * The live table follows `view.segment` while the live tab is open
 * (`view.tab`); elsewhere no segment's stream is kept open. `onGone` is
 * called when the segment turns out to be deleted.
 */
export function followSegment(view, onGone) {
  const segment = view.tab === "live" ? view.segment : null;
  if (segment === shown && (segment === "" || segmentSource)) return;
  closeSegment();
  if (segment === null) {
    // Left the live tab: a segment's events are not kept going stale.
    if (shown !== "") shown = null;
    return;
  }
  fill($("live-stream"));
  shown = segment;
  describe(null);
  const site = view.site;
  refreshCounter(site).catch(() => {});
  if (segment === "") return;
  const stream = new EventSource(`/api/live?site=${encodeURIComponent(site.key)}&segment=${encodeURIComponent(segment)}`);
  segmentSource = stream;
  // The members' counts change with their events, and with a working-out that lets someone in or out.
  stream.addEventListener("segment", (e) => { describe(JSON.parse(e.data)); scheduleRefresh(site); });
  stream.addEventListener("stored", (e) => { addToStream(JSON.parse(e.data).event, site); scheduleRefresh(site); });
  stream.addEventListener("segment_deleted", () => { closeSegment(); onGone(segment); });
  stream.addEventListener("error", async () => {
    // A refused stream (a segment deleted meanwhile) is not retried by the browser.
    if (stream.readyState !== EventSource.CLOSED || segmentSource !== stream) return;
    closeSegment();
    const saved = await get("segments", { site: site.key }).catch(() => null);
    if (saved && !saved.some((s) => s.id === segment)) onGone(segment);
    else $("live-segment").textContent = "The segment's live stream stopped: reload the page to try again.";
  });
}

function closeSegment() {
  segmentSource?.close();
  segmentSource = null;
}

/** Says whose events the table shows: everyone, or a segment's members (`{name, members, refresh_seconds}`). */
function describe(segment) {
  const line = $("live-segment");
  const counters = document.querySelectorAll("#live .total .scope");
  for (const c of counters) c.textContent = !shown ? "" : segment ? `, members of ${segment.name}` : ", the segment's members";
  if (shown === "") return fill(line, "Showing every visitor's events. Pick a segment above to see only its members.");
  if (!segment) return fill(line, "Connecting to the segment…");
  fill(line, "Showing only the members of ", el("strong", {}, segment.name), `: ${count(segment.members)} `,
    segment.members === 1 ? "visitor" : "visitors", ` today so far. A visitor who joins it shows up at once when their event says so, or within ${segment.refresh_seconds} seconds.`);
}

/** The counters, of the segment the table follows (`shown`); none while the live tab is closed. */
async function refreshCounter(site) {
  const segment = shown;
  if (segment === null) return;
  const realtime = await get("query/realtime", { site: site.key, segment });
  // An answer for a segment no longer followed is not shown.
  if (segment !== shown) return;
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
