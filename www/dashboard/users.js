// The Users view, for admins: who may sign in, with which role and which
// sites. Users from the config file are listed but changed only there.

import { el, fill } from "./dom.js";
import { get, send } from "./api.js";

const $ = (id) => document.getElementById(id);
let allSites = [];

/** Fills the view: the list, and the add form's site choices. */
export async function showUsers(sites) {
  allSites = sites;
  fill($("user-sites"),
    el("label", {}, el("input", { type: "checkbox", name: "all-sites", checked: true, onchange: syncSiteBoxes }), " All sites"),
    sites.map((s) => el("label", {}, el("input", { type: "checkbox", name: "site", value: s.key, disabled: true }), ` ${s.name}`)));
  const users = await get("users");
  fill($("user-rows"), users.map(row));
}

function syncSiteBoxes() {
  const all = $("user-form").elements["all-sites"].checked;
  for (const box of $("user-form").querySelectorAll("input[name=site]")) box.disabled = all;
}

function siteNames(sites) {
  if (sites === "all") return "All sites";
  return sites.map((key) => allSites.find((s) => s.key === key)?.name ?? key).join(", ");
}

function row(user) {
  const editable = user.source === "database";
  const role = editable
    ? el("select", { "aria-label": `Role of ${user.name}`, onchange: (e) => change(user.name, { role: e.target.value }) },
        ["viewer", "admin"].map((r) => el("option", { value: r, selected: r === user.role }, r)))
    : user.role;
  const actions = editable
    ? el("button", { type: "button", "aria-label": `Remove ${user.name}`, onclick: () => remove(user.name) }, "Remove")
    : el("span", { class: "none" }, "in the config file");
  const sites = el("td", {}, siteNames(user.sites), " ",
    editable && el("button", { type: "button", class: "quiet", "aria-label": `Change the sites of ${user.name}`, onclick: () => editSites(sites, user) }, "Change"));
  return el("tr", { dataset: { user: user.name } }, el("td", {}, user.name), el("td", {}, role), sites, el("td", {}, actions));
}

/** Replaces a row's sites with checkboxes and a Save button. */
function editSites(cell, user) {
  const given = (key) => user.sites === "all" || user.sites.includes(key);
  const all = el("input", { type: "checkbox", checked: user.sites === "all" });
  const boxes = allSites.map((s) => el("input", { type: "checkbox", value: s.key, checked: given(s.key) }));
  const save = () => change(user.name, { sites: all.checked ? "all" : boxes.filter((b) => b.checked).map((b) => b.value) });
  fill(cell, el("fieldset", { class: "inline-sites" }, el("legend", {}, `Sites of ${user.name}`),
    el("label", {}, all, " All sites"),
    allSites.map((s, i) => el("label", {}, boxes[i], ` ${s.name}`)),
    el("button", { type: "button", onclick: save }, "Save")));
  all.focus();
}

async function change(name, body) {
  await act(() => send("PATCH", `users/${encodeURIComponent(name)}`, body));
}

async function remove(name) {
  if (!confirm(`Remove ${name}? They are signed out at once.`)) return;
  await act(() => send("DELETE", `users/${encodeURIComponent(name)}`));
}

/** Runs a change, says what went wrong if anything, and shows the list again. */
async function act(request) {
  $("users-error").textContent = "";
  try {
    await request();
  } catch (err) {
    $("users-error").textContent = err.message;
  }
  await showUsers(allSites);
}

$("user-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const data = new FormData(form);
  const sites = form.elements["all-sites"].checked ? "all" : data.getAll("site");
  const body = { name: data.get("name"), password: data.get("password"), role: data.get("role"), sites };
  $("users-error").textContent = "";
  try {
    await send("POST", "users", body);
    form.reset();
    syncSiteBoxes();
    $("users-status").textContent = `Added ${body.name}.`;
  } catch (err) {
    $("users-error").textContent = err.message;
  }
  fill($("user-rows"), (await get("users")).map(row));
});
