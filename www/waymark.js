/* Waymark loader. Reads the script tag's data-* attributes, queues calls
   made before the SDK is ready (waymark("track", "signup", {...})), and
   streams the Wasm in without blocking the page. A `waymark` function that
   still has its queue `q` is a stub (this loader's, or an inline snippet's)
   whose calls are replayed once the SDK runs. Never throws into the page.
   Instantiating, starting and replaying run in tasks of their own, so that
   none makes a long task on the page's main thread. */
(function (w, d) {
  var s = d.currentScript, f = w.waymark, q, m;
  if (!s || (f && !f.q)) return;
  q = (f && f.q) || [];
  var base = s.src.replace(/[^/]*$/, "");
  function run(o, n, a, b) {
    try { return o[n](a, b); }
    catch (e) { console.error("waymark: " + n + "() failed", e); }
  }
  f = w.waymark = function (n, a, b) { if (m) return run(m, n, a, b); q.push([n, a, b]); };
  f.q = q;
  import(base + "sdk/waymark_sdk.js").then(function (x) {
    return x.default({ module_or_path: base + "sdk/waymark_sdk_bg.wasm" }).then(function () {
      setTimeout(function () {
        var c = {}, k;
        for (k in s.dataset) c[k] = s.dataset[k];
        c.endpoint = c.endpoint || base + "api/collect";
        run(x, "start", c);
        setTimeout(function () {
          // A plain object: faster to look methods up in than a module namespace.
          m = Object.assign({}, x);
          delete f.q;
          q.forEach(function (a) { run(m, a[0], a[1], a[2]); });
        });
      });
    });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
