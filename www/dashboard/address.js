// The view in the address bar. Everything that decides what is on screen
// (site, period, filters, segment, tab, comparison and each view's own
// settings) is in the query string, so a view can be bookmarked, shared and
// reloaded, and back and forward step through the views seen. Values equal
// to their default are left out, to keep addresses short.

export const DEFAULTS = {
  range: "7",
  tab: "overview",
  funnel: { within: "session", order: "loose", count: "visitors", breakdown: "" },
  retention: { by: "week", count: "visitors", first_event: "" },
};

/** The view a query string describes. */
export function readAddress(search) {
  const q = new URLSearchParams(search);
  const or = (key, fallback) => q.get(key) ?? fallback;
  return {
    site: q.get("site"),
    tab: or("tab", DEFAULTS.tab),
    range: or("range", DEFAULTS.range),
    // Only a custom range keeps its dates: the others move with today.
    from: q.get("from"),
    to: q.get("to"),
    filters: [...q].filter(([key]) => key.startsWith("filter.")).map(([key, value]) => [key.slice("filter.".length), value]),
    segment: or("segment", ""),
    compare: q.get("compare") !== "off",
    goal: or("goal", ""),
    funnel: {
      steps: q.getAll("funnel.step"),
      within: or("funnel.within", DEFAULTS.funnel.within),
      order: or("funnel.order", DEFAULTS.funnel.order),
      count: or("funnel.count", DEFAULTS.funnel.count),
      breakdown: or("funnel.breakdown", DEFAULTS.funnel.breakdown),
    },
    retention: {
      by: or("retention.by", DEFAULTS.retention.by),
      count: or("retention.count", DEFAULTS.retention.count),
      first_event: or("retention.first_event", DEFAULTS.retention.first_event),
    },
    people: { search: or("people.search", ""), user: or("people.user", ""), visitor: or("people.visitor", "") },
  };
}

/** The query string (with its `?`) that `readAddress` reads back as `view`. */
export function addressOf(view) {
  const q = new URLSearchParams();
  const put = (key, value, fallback = "") => { if (value !== undefined && value !== null && value !== fallback) q.append(key, value); };
  put("site", view.site?.key ?? view.site);
  put("tab", view.tab, DEFAULTS.tab);
  put("range", view.range, DEFAULTS.range);
  if (view.range === "custom") { put("from", view.from); put("to", view.to); }
  for (const [dimension, value] of view.filters) q.append(`filter.${dimension}`, value);
  put("segment", view.segment);
  if (!view.compare) q.append("compare", "off");
  put("goal", view.goal);
  for (const step of view.funnel.steps) q.append("funnel.step", step);
  for (const key of ["within", "order", "count", "breakdown"]) put(`funnel.${key}`, view.funnel[key], DEFAULTS.funnel[key]);
  for (const key of ["by", "count", "first_event"]) put(`retention.${key}`, view.retention[key], DEFAULTS.retention[key]);
  for (const key of ["search", "user", "visitor"]) put(`people.${key}`, view.people[key]);
  // Never "": as a URL, that would keep the address's old query.
  return `?${q.toString()}`;
}
