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
  // track() only queues (name, props as now, time, page); Wasm takes a
  // burst at once, a microtask later or before its own next work.
  function own(o) {
    var t = o && typeof o == "object" ? Object.getPrototypeOf(o) : 0;
    return t === Object.prototype || t === null ? Object.assign({}, o) : o;
  }
  f = w.waymark = function (n, a, b) { if (m) return run(m, n, a, b); q.push([n, a, b]); };
  f.q = q;
  import(base + "sdk/waymark_sdk.js").then(function (x) {
    return x.default({ module_or_path: base + "sdk/waymark_sdk_bg.wasm" }).then(function () {
      setTimeout(function () {
        var c = {}, k, p = [];
        for (k in s.dataset) c[k] = s.dataset[k];
        c.endpoint = c.endpoint || base + "api/collect";
        function drain() { if (p.length) run(x, "trackQueued", p.splice(0)); }
        run(x, "useQueue", drain);
        run(x, "start", c);
        setTimeout(function () {
          // A plain object: faster to look methods up in than a module namespace.
          m = Object.assign({}, x);
          m.track = function (n, a) {
            if (!p.length) queueMicrotask(drain);
            p.push(n, own(a), Date.now(), location.href);
          };
          delete f.q;
          q.forEach(function (a) { run(m, a[0], a[1], a[2]); });
        });
      });
    });
  }).catch(function (e) { console.error("waymark: could not load the SDK", e); });
})(window, document);
