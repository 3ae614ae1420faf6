// The dashboard: sign-in, the site, period, segment and filters the user
// looks at, and which view is open. Each view is one module named after
// its tab (overview.js, live.js, sessions.js, segments.js, …; users.js for
// admins). The site picker offers the sites the collector says this user
// may see.
//
// `view` is the one description of what is on screen; address.js keeps it
// in the address bar. A change goes through `navigate`, which records it
// (so back, forward and reload find it) and draws the view again.

import { el, fill, localDate, NONE } from "./dom.js";
import { get, post, SignedOut } from "./api.js";
import { readAddress, addressOf } from "./address.js";
import { showOverview } from "./overview.js";
import { connectLive, disconnectLive, followSegment } from "./live.js";
import { showSessions, pageBy } from "./sessions.js";
import { showPeople } from "./people.js";
import { showFunnel } from "./funnel.js";
import { showRetention } from "./retention.js";
import { showGoals } from "./goals.js";
import { showSegments, loadSegments, hasSegment } from "./segments.js";
import { showUsers } from "./users.js";
import { showConsent, consentPageBy, byVisitor } from "./consent.js";

const $ = (id) => document.getElementById(id);

/** What is on screen (see address.js); `from`/`to` are the period's local dates. */
const view = readAddress(location.search);
let sites = [];
/** Who is signed in: `{name, role, sites}`. */
let me = null;

/** The tabs where the period means nothing. */
const WITHOUT_PERIOD = ["live", "check", "users", "segments"];
/** The tabs where the period, segment and filters all mean nothing. */
const WITHOUT_BAR = ["check", "users", "segments"];
/** The tabs where filters mean nothing (the live view follows a segment, not filters). */
const WITHOUT_FILTERS = ["consent", "live"];

async function start() {
  try {
    me = await get("auth/session");
  } catch (e) {
    if (e instanceof SignedOut) return showSignIn();
    throw e;
  }
  await showApp();
}

function showSignIn() {
  disconnectLive();
  $("app").hidden = true;
  $("sign-in").hidden = false;
}

$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const form = new FormData(e.target);
    await post("auth/sign-in", { name: form.get("name"), password: form.get("password") });
    e.target.reset();
    me = await get("auth/session");
    await showApp();
  } catch (err) {
    $("sign-in-error").textContent = err.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  await post("auth/sign-out");
  showSignIn();
});

async function showApp() {
  delete document.body.dataset.shown;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("users-tab").hidden = me.role !== "admin";
  // Only admins save goals and segments: viewers see no forms to do it.
  document.body.dataset.role = me.role;
  $("signed-in-as").textContent = `${me.name} (${me.role})`;
  sites = await get("sites");
  fill($("site"), sites.map((s) => el("option", { value: s.key }, s.name)));
  if (!sites.length) {
    $("signed-in-as").textContent += ": no sites are given to you yet; ask an admin";
    document.body.dataset.shown = "";
    return;
  }
  // Signed in anew: the site's live stream and segments are loaded again.
  view.site = null;
  await show(readAddress(location.search), { replace: true });
  // The first view is on screen (tests wait for it before they click).
  document.body.dataset.shown = "";
}

/**
 * Puts `address` (a view as address.js reads it) on screen: the site it
 * names (or the first), its period, and the controls that show them.
 */
async function show(address, { replace = false } = {}) {
  const site = sites.find((s) => s.key === (address.site?.key ?? address.site)) ?? sites[0];
  // `view.site` is null until a site is shown (and after a sign-in).
  const siteChanged = view.site?.key !== site.key;
  Object.assign(view, address, { site });
  if (view.tab === "users" && me.role !== "admin") view.tab = "overview";
  setPeriod();
  if (replace) history.replaceState(null, "", addressOf(view));
  if (siteChanged) {
    $("site").value = site.key;
    $("site-retention").textContent = retentionText(site);
    connectLive(site);
    await loadSegments(view);
  }
  if (view.segment && !hasSegment(view.segment)) segmentGone(view.segment);
  else {
    showControls();
    refresh();
  }
}

/** Changes the view, records it in the history and draws it. */
function navigate(change) {
  $("segment-note").textContent = "";
  Object.assign(view, change);
  setPeriod();
  // The same view again (a date input's second change event) is one step of history.
  const address = addressOf(view);
  if (address === location.search) history.replaceState(null, "", address);
  else history.pushState(null, "", address);
  showControls();
  refresh();
}

/**
 * A segment the site no longer has (deleted, or an old address): everyone
 * is shown instead, and a note says so; the address drops it.
 */
function segmentGone(id) {
  if (view.segment !== id) return;
  $("segment-note").textContent = "The segment this view named no longer exists for this site (it was deleted?): showing everyone.";
  view.segment = "";
  history.replaceState(null, "", addressOf(view));
  showControls();
  refresh();
}

window.addEventListener("popstate", () => guard(show(readAddress(location.search))));

/** The site's retention policy, as the config sets it. */
function retentionText(site) {
  return site.retention_days == null ? "kept forever" : `kept ${site.retention_days} days`;
}

$("site").addEventListener("change", (e) => {
  const site = sites.find((s) => s.key === e.target.value);
  // Filters, segments, goals and people belong to one site.
  guard(show({ ...view, site, filters: [], segment: "", goal: "", people: { search: "", user: "", visitor: "" } })
    .then(() => history.pushState(null, "", addressOf(view))));
});

/** `view.from`/`view.to` from the range chosen (a custom one keeps its dates). */
function setPeriod() {
  const tz = view.site.time_zone;
  const choice = view.range;
  if (choice === "today") [view.from, view.to] = [localDate(tz), localDate(tz)];
  else if (choice === "yesterday") [view.from, view.to] = [localDate(tz, -1), localDate(tz, -1)];
  else if (choice === "custom") {
    view.from ||= localDate(tz, -6);
    view.to ||= localDate(tz);
  } else [view.from, view.to] = [localDate(tz, 1 - Number(choice)), localDate(tz)];
}

/** The period bar as `view` says: the range chosen, its dates, the segment, the comparison. */
function showControls() {
  $("range").value = view.range;
  $("custom-range").hidden = view.range !== "custom";
  $("from").value = view.from;
  $("to").value = view.to;
  $("period-dates").textContent = view.range === "custom" ? "" : view.from === view.to ? view.from : `${view.from} – ${view.to}`;
  $("segment").value = view.segment;
  $("compare").checked = view.compare;
}

$("range").addEventListener("change", (e) => navigate({ range: e.target.value }));
for (const id of ["from", "to"]) {
  $(id).addEventListener("change", () => navigate({ range: "custom", from: $("from").value, to: $("to").value }));
}
$("segment").addEventListener("change", (e) => navigate({ segment: e.target.value }));
$("compare").addEventListener("change", (e) => navigate({ compare: e.target.checked }));

/** Filters come from clicking a row of any table; a chip removes one. */
function addFilter(dimension, value) {
  navigate({ filters: view.filters.filter(([d]) => d !== dimension).concat([[dimension, value]]) });
}

function showFilters() {
  fill($("filters"), view.filters.map(([dimension, value], i) => el("button", {
    class: "chip", title: "Remove this filter",
    onclick: () => navigate({ filters: view.filters.filter((_, j) => j !== i) }),
  }, `${dimension.replace("prop:", "property ")} is ${value === NONE ? "missing" : value}`, " ×")));
}

for (const button of $("tabs").querySelectorAll("button")) {
  button.addEventListener("click", () => navigate({ tab: button.dataset.tab }));
}
$("prev-page").addEventListener("click", () => guard(pageBy(view, -1)));
$("next-page").addEventListener("click", () => guard(pageBy(view, 1)));
$("back-to-sessions").addEventListener("click", () => guard(showSessions(view)));
$("consent-prev").addEventListener("click", () => guard(consentPageBy(view, -1)));
$("consent-next").addEventListener("click", () => guard(consentPageBy(view, 1)));
$("consent-filter").addEventListener("submit", (e) => { e.preventDefault(); guard(byVisitor(view, $("consent-visitor").value)); });
$("consent-everyone").addEventListener("click", () => guard(byVisitor(view, "")));

function refresh() {
  $("report-error").textContent = "";
  for (const b of $("tabs").querySelectorAll("button")) {
    b.classList.toggle("active", b.dataset.tab === view.tab);
    if (b.dataset.tab === view.tab) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== view.tab;
  $("range-bar").hidden = WITHOUT_BAR.includes(view.tab);
  $("period-choice").hidden = WITHOUT_PERIOD.includes(view.tab);
  $("compare-choice").hidden = view.tab !== "overview";
  // The consent log is every decision of the period: filters and segments do not apply.
  $("segment-choice").hidden = view.tab === "consent";
  showFilters();
  $("filters").hidden = WITHOUT_FILTERS.includes(view.tab);
  followSegment(view, segmentGone);
  const shown = {
    overview: () => showOverview(view, addFilter, navigate),
    sessions: () => showSessions(view, 0),
    people: () => showPeople(view, navigate),
    funnels: () => showFunnel(view, navigate),
    retention: () => showRetention(view, navigate),
    goals: () => showGoals(view, navigate),
    segments: () => showSegments(view, navigate),
    users: () => showUsers(sites),
    consent: () => showConsent(view, 0),
  }[view.tab];
  if (shown) guard(shown());
}

/** A 401 from any view means the session ended: back to sign-in. Other
 * refusals (a bad funnel step, a segment removed) are said above the view. */
function guard(promise) {
  promise.catch((e) => {
    if (e instanceof SignedOut) showSignIn();
    else if (e.code === "segment_not_found") {
      // Deleted since the picker was filled (in another tab, by another admin).
      const gone = view.segment;
      loadSegments(view).then(() => segmentGone(gone), () => segmentGone(gone));
    } else {
      $("report-error").textContent = e.message;
      console.error(e);
    }
  });
}

guard(start());
