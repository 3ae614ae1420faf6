// The dashboard: sign-in, the site and period the user looks at, filters,
// and which view is open. The views live in overview.js, live.js,
// sessions.js, consent.js and (for admins) users.js. The site picker offers
// the sites the collector says this user may see.

import { el, fill, localDate, NONE } from "./dom.js";
import { get, post, SignedOut } from "./api.js";
import { showOverview } from "./overview.js";
import { connectLive, disconnectLive } from "./live.js";
import { showSessions, pageBy } from "./sessions.js";
import { showUsers } from "./users.js";
import { showConsent, consentPageBy, byVisitor } from "./consent.js";

const $ = (id) => document.getElementById(id);

/** What is on screen: the site, the period (local dates) and the filters. */
const view = { site: null, from: null, to: null, filters: [], tab: "overview" };
let sites = [];
/** Who is signed in: `{name, role, sites}`. */
let me = null;

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
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("users-tab").hidden = me.role !== "admin";
  $("signed-in-as").textContent = `${me.name} (${me.role})`;
  if (view.tab === "users" && me.role !== "admin") view.tab = "overview";
  sites = await get("sites");
  fill($("site"), sites.map((s) => el("option", { value: s.key }, s.name)));
  if (sites.length) selectSite(sites[0]);
  else $("signed-in-as").textContent += ": no sites are given to you yet; ask an admin";
}

/** The site's retention policy, as the config sets it. */
function retentionText(site) {
  return site.retention_days == null ? "kept forever" : `kept ${site.retention_days} days`;
}

function selectSite(site) {
  view.site = site;
  $("retention").textContent = retentionText(site);
  view.filters = [];
  setRange($("range").value);
  connectLive(site);
  refresh();
}

$("site").addEventListener("change", (e) => selectSite(sites.find((s) => s.key === e.target.value)));

function setRange(choice) {
  const tz = view.site.time_zone;
  $("custom-range").hidden = choice !== "custom";
  if (choice === "today") [view.from, view.to] = [localDate(tz), localDate(tz)];
  else if (choice === "yesterday") [view.from, view.to] = [localDate(tz, -1), localDate(tz, -1)];
  else if (choice === "custom") {
    $("from").value ||= view.from;
    $("to").value ||= view.to;
    [view.from, view.to] = [$("from").value, $("to").value];
  } else [view.from, view.to] = [localDate(tz, 1 - Number(choice)), localDate(tz)];
}

$("range").addEventListener("change", (e) => { setRange(e.target.value); refresh(); });
for (const id of ["from", "to"]) $(id).addEventListener("change", () => { setRange("custom"); refresh(); });

/** Filters come from clicking a row of any table; a chip removes one. */
function addFilter(dimension, value) {
  view.filters = view.filters.filter(([d]) => d !== dimension).concat([[dimension, value]]);
  refresh();
}

function showFilters() {
  fill($("filters"), view.filters.map(([dimension, value], i) => el("button", {
    class: "chip", title: "Remove this filter",
    onclick: () => { view.filters.splice(i, 1); refresh(); },
  }, `${dimension.replace("prop:", "property ")} is ${value === NONE ? "missing" : value}`, " ×")));
}

for (const button of $("tabs").querySelectorAll("button")) {
  button.addEventListener("click", () => { view.tab = button.dataset.tab; refresh(); });
}
$("prev-page").addEventListener("click", () => guard(pageBy(view, -1)));
$("next-page").addEventListener("click", () => guard(pageBy(view, 1)));
$("back-to-sessions").addEventListener("click", () => guard(showSessions(view)));
$("consent-prev").addEventListener("click", () => guard(consentPageBy(view, -1)));
$("consent-next").addEventListener("click", () => guard(consentPageBy(view, 1)));
$("consent-filter").addEventListener("submit", (e) => { e.preventDefault(); guard(byVisitor(view, $("consent-visitor").value)); });
$("consent-everyone").addEventListener("click", () => guard(byVisitor(view, "")));

function refresh() {
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.tab === view.tab);
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== view.tab;
  $("range-bar").hidden = view.tab === "live" || view.tab === "check" || view.tab === "users";
  showFilters();
  // The consent log is every decision of the period: filters do not apply.
  $("filters").hidden = view.tab === "consent";
  if (view.tab === "overview") guard(showOverview(view, addFilter));
  if (view.tab === "sessions") guard(showSessions(view, 0));
  if (view.tab === "users") guard(showUsers(sites));
  if (view.tab === "consent") guard(showConsent(view, 0));
}

/** A 401 from any view means the session ended: back to sign-in. */
function guard(promise) {
  promise.catch((e) => {
    if (e instanceof SignedOut) showSignIn();
    else console.error(e);
  });
}

guard(start());
