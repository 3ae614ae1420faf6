/* Waymark loader. Reads the script tag's data-* attributes, queues calls
   made before the SDK module is loaded (waymark("track", "signup", {...}))
   and loads it (it streams the Wasm in) without blocking the page. A
   `waymark` function that still has its queue `q` is a stub (this
   loader's, or an inline snippet's); the module's `init` takes that queue
   over as its own, so calls wait in one queue until the SDK runs, and
   `q` is deleted then. Never throws into the page. */
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
    // From here on calls go to the module, which queues them in `q` too.
    // A plain object: faster to look methods up in than a module namespace.
    m = Object.assign({}, x);
    return x.init(c, q).then(function () { delete f.q; });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
