/**
 * The page's script, embedded in the binary as a string: plain browser JavaScript, no build
 * step and no libraries. It renders the view the path names from the JSON API, then keeps it
 * live from the server-sent events of `/api/events`. Elements are built with textContent, never
 * innerHTML, so task data cannot inject markup.
 * @module
 */

/** The JavaScript served at `/assets/app.js`. */
export const CLIENT_JS = String.raw`
"use strict";
(function () {
  var TOKEN = document.querySelector('meta[name="taskd-csrf"]').content;
  var main = document.getElementById("main");
  var banner = document.getElementById("banner");
  var path = location.pathname.replace(/\/+$/, "") || "/";
  var handlers = { tasks: [], worker: [], queues: [], replayed: [] };

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function time(ts) {
    if (!ts) return "";
    var d = new Date(ts * 1000);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function dateTime(ts) { return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 23) : ""; }
  function secs(x) { return typeof x === "number" ? (x < 1 ? (x * 1000).toFixed(1) + " ms" : x.toFixed(2) + " s") : ""; }
  function badge(state) { return h("span", { class: "state " + state, text: state }); }
  function taskLink(id) { return h("a", { href: "/tasks/" + encodeURIComponent(id), class: "mono id", text: id }); }
  function flash(msg) {
    var f = h("div", { class: "flash", text: msg });
    document.body.appendChild(f);
    setTimeout(function () { f.remove(); }, 2500);
  }

  function api(url, opts) {
    opts = opts || {};
    var init = { method: opts.method || "GET", headers: { accept: "application/json" } };
    if (init.method === "POST") {
      init.headers["x-taskd-csrf"] = TOKEN;
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(opts.body || {});
    }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { var e = new Error(j.error || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return j;
      });
    });
  }
  function post(url, body, done) {
    return api(url, { method: "POST", body: body }).then(function (j) { if (done) done(j); return j; }, function (e) { flash(e.message); });
  }

  function throttle(fn, ms) {
    var t = null, again = false;
    return function () {
      if (t) { again = true; return; }
      fn();
      t = setTimeout(function () { t = null; if (again) { again = false; fn(); } }, ms);
    };
  }

  function setBanner(b) {
    if (!b || b.up) { banner.hidden = true; banner.textContent = ""; return; }
    banner.hidden = false;
    banner.textContent = "Broker unavailable: " + (b.error || "disconnected") + " — showing what the dashboard last knew; it reconnects by itself.";
  }

  function table(headers, rows) {
    var body = rows && rows.tagName === "TBODY" ? rows : h("tbody", null, rows);
    return h("table", null, h("thead", null, h("tr", null, headers.map(function (x) { return h("th", { text: x }); }))), body);
  }

  // ---- live events ----
  var liveDot = document.getElementById("live");
  function connect() {
    var es = new EventSource("/api/events");
    // Browsers allow six connections per host: a stream left open by a page being left (or
    // kept in the back-forward cache) would starve the next page's requests.
    window.addEventListener("pagehide", function () { es.close(); });
    es.addEventListener("hello", function (ev) {
      var hello = JSON.parse(ev.data);
      liveDot.classList.add("on");
      // A restarted dashboard has a new CSRF token: take it, so actions keep working without a reload.
      if (hello.csrf) TOKEN = hello.csrf;
      setBanner(hello.broker);
    });
    es.addEventListener("broker", function (ev) { setBanner(JSON.parse(ev.data)); });
    ["tasks", "worker", "queues", "replayed"].forEach(function (name) {
      es.addEventListener(name, function (ev) {
        var data = JSON.parse(ev.data);
        handlers[name].forEach(function (f) { f(data); });
      });
    });
    es.onerror = function () {
      liveDot.classList.remove("on");
      banner.hidden = false;
      banner.textContent = "The dashboard is not answering: reconnecting…";
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  // ---- task rows ----
  function taskRow(t) {
    return h("tr", { "data-id": t.id },
      h("td", null, taskLink(t.id)),
      h("td", { class: "name", text: t.name || "" }),
      h("td", { class: "state-cell" }, badge(t.state)),
      h("td", { class: "mono trunc args", title: t.args || "", text: [t.args, t.kwargs && t.kwargs !== "{}" ? t.kwargs : ""].filter(Boolean).join(" ") }),
      h("td", { class: "worker", text: t.worker || "" }),
      h("td", { class: "mono", text: time(t.received || t.sent || t.first) }),
      h("td", { class: "mono", text: secs(t.runtime) }),
      h("td", { class: "mono trunc outcome", title: t.exception || t.result || "", text: t.state === "SUCCESS" ? (t.result || "") : (t.exception || "") }));
  }
  function consumersCell(q) {
    if (q.workers === null || q.workers === undefined) return h("td", { class: "muted", text: "?" });
    if (!q.workers.length) return h("td", null, h("span", { class: "state FAILURE", text: "no workers" }));
    return h("td", { text: q.workers.join(", ") });
  }
  var TASK_HEADERS = ["Id", "Task", "State", "Arguments", "Worker", "Received", "Runtime", "Result / error"];

  // ---- views ----
  // A line chart of pick(x) over the series; extra: a second line (e.g. failures) in red.
  function chart(series, pick, label, unit, extra) {
    var w = 600, hgt = 120, max = 0;
    var vals = series.map(pick);
    vals.forEach(function (v) { if (v > max) max = v; });
    var top = max > 0 ? max * 1.15 : 1;
    function points(vs) { return vs.map(function (v, i) { return (i * w / Math.max(1, vs.length - 1)).toFixed(1) + "," + (hgt - v / top * (hgt - 4)).toFixed(1); }).join(" "); }
    var pts = points(vals);
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + hgt);
    svg.setAttribute("preserveAspectRatio", "none");
    function polyline(p, color) {
      var line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", p);
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", color);
      line.setAttribute("stroke-width", "1.5");
      line.setAttribute("vector-effect", "non-scaling-stroke");
      return line;
    }
    var area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", "0," + hgt + " " + pts + " " + w + "," + hgt);
    area.setAttribute("fill", "rgba(47,111,222,.12)");
    svg.appendChild(area); svg.appendChild(polyline(pts, "#2f6fde"));
    if (extra) svg.appendChild(polyline(points(series.map(extra)), "#c73a3a"));
    var last = vals.length ? vals[vals.length - 1] : 0;
    return h("div", { class: "chart" }, h("div", { class: "t" }, h("span", { text: label }), h("span", { text: "max " + (unit === "s" ? secs(max) : max.toFixed(0) + unit) + " · now " + (unit === "s" ? secs(last) : last.toFixed(0) + unit) })), svg);
  }

  function overview() {
    var cards = h("div", { class: "cards" }), charts = h("div", { class: "charts" }), queues = h("div"), workers = h("div", { id: "overview-workers" }), recent = h("tbody");
    clear(main);
    add(main, [h("h1", { text: "Overview" }), cards, charts, h("h2", { text: "Queues" }), queues, h("h2", { text: "Workers" }), workers,
      h("h2", null, "Latest tasks ", h("a", { href: "/tasks", text: "all tasks →" })), table(TASK_HEADERS, recent)]);
    function load() {
      api("/api/overview").then(function (o) {
        clear(cards);
        var card = function (n, l) { return h("div", { class: "card" }, h("div", { class: "n", text: String(n) }), h("div", { class: "l", text: l })); };
        var s = o.states;
        add(cards, [card(o.indexed, "tasks in history"), card(o.workers, "workers alive"), card(s.SUCCESS || 0, "succeeded"), card(s.FAILURE || 0, "failed"),
          card((s.STARTED || 0) + (s.RECEIVED || 0), "running or received"), card(s.RETRY || 0, "retrying"), card(s.REVOKED || 0, "revoked")]);
        clear(charts);
        add(charts, [chart(o.series, function (x) { return x.succeeded + x.failed; }, "Throughput: finished per second (red: failed), last 5 min", "/s", function (x) { return x.failed; }),
          chart(o.series, function (x) { return x.runtimeCount ? x.runtimeSum / x.runtimeCount : 0; }, "Mean runtime per second", "s")]);
      }, function () {});
    }
    function loadQueues(v) {
      if (!v) { api("/api/queues").then(loadQueues, function (e) { clear(queues); add(queues, h("p", { class: "muted", text: e.message })); }); return; }
      clear(queues);
      add(queues, v.queues.length ? table(["Queue", "Waiting", "Ack pending", "Redelivered", "Workers"], v.queues.map(function (q) {
        return h("tr", null, h("td", { text: q.name }), h("td", { text: q.pending }), h("td", { text: q.ackPending }), h("td", { text: q.redelivered }), consumersCell(q));
      })) : h("p", { class: "muted", text: "No queues yet." }));
    }
    function loadWorkers() {
      api("/api/workers").then(function (v) {
        clear(workers);
        add(workers, v.workers.length ? table(["Worker", "Status", "Active", "Processed", "Last heartbeat"], v.workers.map(function (w) {
          return h("tr", null, h("td", { text: w.hostname }), h("td", { text: w.alive ? "online" : "offline" }), h("td", { text: w.active == null ? "" : w.active }), h("td", { text: w.processed == null ? "" : w.processed }), h("td", { class: "mono", text: time(w.lastSeen) }));
        })) : h("p", { class: "muted", text: "No workers seen." }));
      }, function (e) { clear(workers); add(workers, h("p", { class: "muted", text: e.message })); });
    }
    function loadRecent() {
      api("/api/tasks?limit=10").then(function (p) { clear(recent); add(recent, p.tasks.map(taskRow)); }, function () {});
    }
    load(); loadQueues(); loadWorkers(); loadRecent();
    var again = throttle(function () { load(); loadRecent(); }, 1000);
    handlers.tasks.push(again);
    handlers.replayed.push(again);
    handlers.queues.push(loadQueues);
    handlers.worker.push(throttle(function () { loadWorkers(); load(); }, 2000));
    setInterval(load, 5000); // the charts move on even when nothing happens
  }

  function tasks() {
    var params = new URLSearchParams(location.search);
    var offset = Number(params.get("offset") || 0), limit = 50;
    var q = h("input", { type: "search", id: "q", name: "q", placeholder: "search: words, or name: state: worker: id: args: kwargs: result: error: after: before:", value: params.get("q") || "" });
    var state = h("select", { id: "state", name: "state" }, ["", "PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED"].map(function (s) {
      return h("option", { value: s, text: s || "any state", selected: params.get("state") === s && s !== "" });
    }));
    var body = h("tbody", { id: "task-rows" }), info = h("span", { class: "muted" }), pager = h("div", { class: "pager" });
    clear(main);
    add(main, [h("h1", { text: "Tasks" }), h("form", { class: "search", id: "search", action: "/tasks" }, q, state, h("button", { class: "primary", type: "submit", text: "Search" })),
      table(TASK_HEADERS, body), pager]);
    function query() {
      var u = new URLSearchParams();
      if (q.value) u.set("q", q.value);
      if (state.value) u.set("state", state.value);
      return u;
    }
    function load() {
      var u = query(); u.set("limit", limit); u.set("offset", offset);
      api("/api/tasks?" + u).then(function (p) {
        clear(body);
        add(body, p.tasks.length ? p.tasks.map(taskRow) : h("tr", null, h("td", { colspan: 8, class: "muted", text: "No tasks match." })));
        clear(pager);
        var nav = function (o, label, on) {
          var u2 = query(); if (o) u2.set("offset", o);
          return on ? h("a", { href: "/tasks?" + u2, text: label }) : h("span", { class: "muted", text: label });
        };
        info.textContent = (p.tasks.length ? (offset + 1) + "–" + (offset + p.tasks.length) : "0") + " of " + p.indexed + " in history · " + p.took.toFixed(1) + " ms";
        add(pager, [nav(Math.max(0, offset - limit), "← newer", offset > 0), nav(offset + limit, "older →", p.more), info]);
      }, function (e) { flash(e.message); });
    }
    load();
    var reload = throttle(load, 300);
    handlers.tasks.push(function (changed) {
      var unknown = false;
      changed.forEach(function (t) {
        var row = body.querySelector('tr[data-id="' + CSS.escape(t.id) + '"]');
        if (row) row.replaceWith(taskRow(t));
        else unknown = true;
      });
      if (unknown && offset === 0) reload();
    });
    handlers.replayed.push(reload);
  }

  function taskDetail(id) {
    var box = h("div"), groupId = null;
    clear(main);
    add(main, [h("h1", null, "Task ", h("span", { class: "mono", text: id })), box]);
    function load() {
      api("/api/tasks/" + encodeURIComponent(id)).then(function (d) {
        var t = d.task, s = d.stored || {};
        groupId = t.groupId || null;
        clear(box);
        var rows = [["State", badge(t.state)], ["Name", t.name], ["Worker", t.worker || s.worker], ["Queue", t.queue], ["Retries", String(t.retries || 0)],
          ["Arguments", t.args], ["Keyword arguments", t.kwargs], ["Sent", dateTime(t.sent)], ["Received", dateTime(t.received)], ["Started", dateTime(t.started)],
          ["Ended", dateTime(t.ended) || s.dateDone], ["Runtime", secs(t.runtime)], ["ETA", t.eta], ["Expires", t.expires],
          ["Parent", t.parentId ? taskLink(t.parentId) : null], ["Root", t.rootId && t.rootId !== t.id ? taskLink(t.rootId) : null],
          ["Group", t.groupId ? h("a", { href: "/tasks?q=" + encodeURIComponent("group:" + t.groupId), class: "mono", text: t.groupId }) : null]];
        var kv = h("div", { class: "kv", id: "task-fields" });
        rows.forEach(function (r) { if (r[1]) add(kv, [h("div", { class: "k", text: r[0] }), h("div", { class: "v mono" }, r[1])]); });
        var actions = h("div", { class: "actions" },
          h("button", { id: "revoke", class: "danger", onclick: function () { post("/api/tasks/" + encodeURIComponent(id) + "/revoke", { terminate: false }, function () { flash("revoked " + id); load(); }); } }, "Revoke"),
          h("button", { id: "terminate", class: "danger", onclick: function () { post("/api/tasks/" + encodeURIComponent(id) + "/revoke", { terminate: true }, function (j) { flash(j.terminated ? "terminated " + id : "revoked " + id + " (not running)"); load(); }); } }, "Terminate"));
        add(box, [actions, kv]);
        if (t.state === "SUCCESS" || s.state === "SUCCESS") add(box, [h("h2", { text: "Result" }), h("pre", { id: "result", text: s.result !== undefined ? s.result : (t.result || "") })]);
        if (t.exception || s.traceback) {
          add(box, [h("h2", { text: "Error" }), h("pre", { id: "exception", text: t.exception || s.result || "" })]);
          if (s.traceback) add(box, [h("h2", { text: "Traceback" }), h("pre", { id: "traceback", text: s.traceback })]);
        }
        if (t.attempts && t.attempts.length) {
          add(box, [h("h2", { text: "Attempts" }), table(["#", "Worker", "Received", "Started", "Ended", "Outcome", "Runtime", "Error"], t.attempts.map(function (a) {
            return h("tr", null, h("td", { text: a.retries }), h("td", { text: a.worker || "" }), h("td", { class: "mono", text: time(a.received) }), h("td", { class: "mono", text: time(a.started) }),
              h("td", { class: "mono", text: time(a.ended) }), h("td", null, a.outcome ? badge(a.outcome) : ""), h("td", { text: secs(a.runtime) }), h("td", { class: "mono wrap", text: a.exception || "" }));
          }))]);
        }
        if (d.group && d.group.length > 1) add(box, [h("h2", { text: "Group (" + d.group.length + " tasks)" }), table(TASK_HEADERS, d.group.map(taskRow))]);
        if (d.children.length) add(box, [h("h2", { text: "Children" }), table(TASK_HEADERS, d.children.map(function (c) { return c.state ? taskRow(c) : h("tr", null, h("td", { colspan: 8 }, taskLink(c.id))); }))]);
      }, function (e) {
        clear(box);
        add(box, h("p", { class: "note", id: "not-found", text: e.message }));
      });
    }
    load();
    var reload = throttle(load, 300);
    handlers.tasks.push(function (changed) { if (changed.some(function (t) { return t.id === id || t.parentId === id || (t.groupId && t.groupId === groupId); })) reload(); });
  }

  function workers() {
    var box = h("div");
    clear(main);
    add(main, [h("h1", { text: "Workers" }), box]);
    function load() {
      api("/api/workers").then(function (v) {
        clear(box);
        if (!v.workers.length) { add(box, h("p", { class: "muted", text: "No workers seen yet: they appear with their first heartbeat." })); return; }
        v.workers.forEach(function (w) {
          var st = w.stats || {}, pool = st.pool || {};
          var task = h("input", { placeholder: "task name" }), rate = h("input", { placeholder: "rate, e.g. 10/m (empty: none)", size: 22 });
          add(box, [h("h2", null, w.hostname, " ", h("span", { class: "state " + (w.alive ? "SUCCESS" : "FAILURE"), text: w.alive ? "online" : "offline" })),
            h("div", { class: "kv" }, [["pid", w.pid], ["active", w.active], ["processed", w.processed], ["load", w.loadavg ? w.loadavg.map(function (x) { return x.toFixed(2); }).join(" ") : ""],
              ["pool", pool.kind || (typeof pool === "string" ? pool : "")], ["concurrency", pool.maxConcurrency], ["prefetch", st.prefetchCount],
              ["queues", (st.queues || []).join(", ")], ["uptime", st.uptime === undefined ? "" : st.uptime + " s"], ["runtime", st.runtime],
              ["rss", st.rusage && st.rusage.rss ? (st.rusage.rss / 1048576).toFixed(1) + " MB" : ""],
              ["rate limits (/s)", st.rateLimits && Object.keys(st.rateLimits).length ? JSON.stringify(st.rateLimits) : ""],
              ["global rate limits (/s)", st.globalRateLimits && Object.keys(st.globalRateLimits).length ? JSON.stringify(st.globalRateLimits) : ""],
              ["tasks run", st.total && Object.keys(st.total).length ? JSON.stringify(st.total) : ""],
              ["last heartbeat", dateTime(w.lastSeen)]].map(function (r) {
              return r[1] === undefined || r[1] === null || r[1] === "" ? null : [h("div", { class: "k", text: r[0] }), h("div", { class: "mono", text: String(r[1]) })];
            })),
            w.running && w.running.length ? table(["Running", "Task", "Since"], w.running.map(function (t) { return h("tr", null, h("td", null, taskLink(t.id)), h("td", { text: t.name || "" }), h("td", { class: "mono", text: t.timeStart ? time(t.timeStart) : "" })); })) : null,
            h("div", { class: "actions" }, task, rate,
              h("button", { onclick: function () { post("/api/workers/" + encodeURIComponent(w.hostname) + "/rate_limit", { task: task.value, rate: rate.value || null }, function () { flash("rate limit set"); }); } }, "Set rate limit"),
              h("button", { class: "danger", onclick: function () { if (confirm("Shut down " + w.hostname + "?")) post("/api/workers/" + encodeURIComponent(w.hostname) + "/shutdown", {}, function () { flash("shutdown sent"); }); } }, "Shut down"))]);
        });
      }, function (e) { clear(box); add(box, h("p", { class: "note", text: e.message })); });
    }
    load();
    handlers.worker.push(throttle(load, 2000));
  }

  function queues() {
    var box = h("div");
    clear(main);
    add(main, [h("h1", { text: "Queues" }), box]);
    function render(v) {
      clear(box);
      add(box, [h("div", { class: "cards" }, h("div", { class: "card" }, h("div", { class: "n", text: String(v.stored) }), h("div", { class: "l", text: "messages stored" })),
        h("div", { class: "card" }, h("div", { class: "n", text: String(v.delayed) }), h("div", { class: "l", text: "delayed (eta, countdown, retry)" }))), h("h2", { text: "Queues" }),
        v.queues.length ? table(["Queue", "Waiting", "Ack pending", "Redelivered", "Waiting pulls", "Workers", "Paused", ""], v.queues.map(function (q) {
          return h("tr", { "data-queue": q.name }, h("td", { text: q.name }), h("td", { text: q.pending }), h("td", { text: q.ackPending }), h("td", { text: q.redelivered }), h("td", { text: q.waitingPulls }), consumersCell(q),
            h("td", { text: q.paused === null ? "not available" : (q.paused ? "paused" : "no") }),
            h("td", null, h("button", { disabled: !v.pauseAvailable, title: v.pauseAvailable ? "" : "pausing queues is not available in this version", onclick: function () { post("/api/queues/" + encodeURIComponent(q.name) + "/" + (q.paused ? "resume" : "pause"), {}, function () { flash("done"); }); } }, q.paused ? "Resume" : "Pause")));
        })) : h("p", { class: "muted", text: "No queues yet: a queue appears when a worker first consumes it." })]);
    }
    api("/api/queues").then(render, function (e) { clear(box); add(box, h("p", { class: "note", text: e.message })); });
    handlers.queues.push(render);
  }

  function dead() {
    var box = h("div");
    clear(main);
    add(main, [h("h1", { text: "Dead letters" }), box]);
    function load() {
      api("/api/dead").then(function (v) {
        clear(box);
        add(box, [h("div", { class: "actions" }, h("span", { class: "muted", text: v.total + " dead letter" + (v.total === 1 ? "" : "s") }),
          h("button", { id: "retry-all", disabled: !v.total, onclick: function () { post("/api/dead/retry", {}, function (j) { flash("retried " + j.retried); load(); }); } }, "Retry all"),
          h("button", { id: "purge", class: "danger", disabled: !v.total, onclick: function () { if (confirm("Delete every dead letter?")) post("/api/dead/purge", {}, function (j) { flash("purged " + j.purged); load(); }); } }, "Purge")),
          v.dead.length ? table(["Seq", "Died", "Queue", "Task", "Id", "Reason", ""], v.dead.map(function (x) {
            return h("tr", { "data-seq": x.seq, "data-id": x.id || "" }, h("td", { text: x.seq }), h("td", { class: "mono", text: (x.deadAt || "").replace("T", " ").slice(0, 19) }), h("td", { text: x.queue }),
              h("td", { text: x.task || "?" }), h("td", null, x.id ? taskLink(x.id) : "?"), h("td", { class: "reason wrap", text: x.reason || "" }),
              h("td", null, h("button", { class: "retry", onclick: function () { post("/api/dead/" + x.seq + "/retry", {}, function (j) { flash("sent back to " + j.queue); load(); }); } }, "Retry")));
          })) : h("p", { class: "muted", id: "no-dead", text: "No dead letters." })]);
      }, function (e) { clear(box); add(box, h("p", { class: "note", text: e.message })); });
    }
    load();
    handlers.tasks.push(throttle(function (changed) { if (changed && changed.some && changed.some(function (t) { return t.state === "REJECTED"; })) load(); }, 1000));
  }

  function schedules() {
    var box = h("div");
    clear(main);
    add(main, [h("h1", { text: "Schedules" }), box]);
    api("/api/schedules").then(function (v) {
      if (!v.available) { add(box, h("p", { class: "note", id: "schedules-unavailable", text: "Not available: " + (v.reason || "this version has no periodic tasks") + "." })); return; }
      add(box, table(["Name", "Task", "Schedule", "Next run", "Last run", "Paused"], (v.schedules || []).map(function (s) {
        return h("tr", null, h("td", { text: s.name }), h("td", { text: s.task || "" }), h("td", { class: "mono", text: s.schedule || "" }), h("td", { class: "mono", text: s.nextRun || "" }), h("td", { class: "mono", text: s.lastRun || "" }), h("td", { text: s.paused ? "yes" : "no" }));
      })));
    }, function (e) { add(box, h("p", { class: "note", text: e.message })); });
  }

  document.querySelectorAll("header nav a").forEach(function (a) {
    var v = a.getAttribute("data-view");
    if (v === path || (v !== "/" && path.indexOf(v + "/") === 0)) a.classList.add("active");
  });
  connect();
  if (path === "/") overview();
  else if (path === "/tasks") tasks();
  else if (path.indexOf("/tasks/") === 0) taskDetail(decodeURIComponent(path.slice(7)));
  else if (path === "/workers") workers();
  else if (path === "/queues") queues();
  else if (path === "/dead") dead();
  else if (path === "/schedules") schedules();
})();
`;
