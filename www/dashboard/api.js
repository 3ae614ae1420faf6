// The query API as the dashboard uses it: same-origin fetches carrying the
// session cookie. A 401 anywhere sends the user back to sign-in.

export class SignedOut extends Error {}

export function queryString(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (key === "filters") for (const [dimension, v] of value) q.append(`filter.${dimension}`, v);
    else if (Array.isArray(value)) for (const v of value) q.append(key, v);
    else if (value !== undefined && value !== null && value !== "") q.append(key, value);
  }
  return q.toString();
}

/** The API's refusal as an error: its message, and its machine-readable `code` (`segment_not_found`, …). */
function refusal(body, fallback) {
  return Object.assign(new Error(body.message ?? fallback), { code: body.error });
}

export async function get(path, params = {}) {
  const response = await fetch(`/api/${path}?${queryString(params)}`, { credentials: "same-origin" });
  if (response.status === 401) throw new SignedOut();
  const body = await response.json();
  if (!response.ok) throw refusal(body, `${path}: ${response.status}`);
  return body;
}

export function post(path, body) {
  return send("POST", path, body);
}

/** A change (POST, PATCH, DELETE) with a JSON body; the refusal's message as the error. */
export async function send(method, path, body) {
  const response = await fetch(`/api/${path}`, {
    method, credentials: "same-origin", headers: { "content-type": "application/json" }, body: body === undefined && method === "DELETE" ? undefined : JSON.stringify(body ?? {}),
  });
  if (response.status === 401 && path !== "auth/sign-in") throw new SignedOut();
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw refusal(answer, `${path}: ${response.status}`);
  return answer;
}

export function csvLink(path, params) {
  return `/api/${path}?${queryString({ ...params, format: "csv" })}`;
}

/** What every report takes from the view: the site, the period, the filters and the segment. */
export function reportParams(view) {
  return { site: view.site.key, from: view.from, to: view.to, filters: view.filters, segment: view.segment };
}
