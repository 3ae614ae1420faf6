/* Waymark loader. Reads the script tag's data-* attributes, queues calls
   made before the SDK loads (waymark("track", "signup", {...})) and loads
   it without blocking the page. A `waymark` with a queue `q` is a stub
   (this loader's, or an inline snippet's); `init` takes `q` over as the
   SDK's one queue until it runs. Never throws into the page. */
(function (w, d) {
  var s = d.currentScript, f = w.waymark, q, m;
  if (!s || (f && !f.q)) return;
  q = (f && f.q) || [];
  var base = s.src.replace(/[^/]*$/, "");
  function run(n, a, b) {
    try { return m[n](a, b); }
    catch (e) { console.error("waymark: " + n + "() failed", e); }
  }
  f = w.waymark = function (n, a, b) { if (m) return run(n, a, b); q.push([n, a, b]); };
  f.q = q;
  import(base + "sdk/waymark_sdk.js").then(function (x) {
    var c = {}, k;
    for (k in s.dataset) c[k] = s.dataset[k];
    c.endpoint = c.endpoint || base + "api/collect";
    // A plain object: faster to look methods up in than a module namespace.
    m = Object.assign({}, x);
    return x.init(c, q).then(function () { delete f.q; });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
