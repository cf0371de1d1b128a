/* The wall: scale the 1920×1080 stage to the screen, draw each frame, keep the clock and the
   data age. Every text goes in through textContent: citizens' words are never HTML. */
(function () {
  "use strict";
  var STAGE_W = 1920, STAGE_H = 1080, STALE_MS = 5000, RELOAD_AFTER_MS = 240000, POLL_AFTER_MS = 2500;
  var CLOUDS = ["events", "people", "workforce"];  /* 三云图, shown in turn */
  var CLOUD_PROPERTY = { people: "population", workforce: "workers" };
  var state = { receivedAt: 0, builtMs: 0, strings: null, clockFmt: null, loadedAt: Date.now(),
                cloud: 0, cloudSince: Date.now(), seen: {}, pulses: [],
                alertMarks: [], alertAreas: {}, alertsSeen: null, alertPage: 0, alertPageSince: Date.now() };
  var PULSE_MS = 4000, HISTORY_KEEP = 5;
  var ALERTS_PER_PAGE = 4, ALERT_PAGE_MS = 8000, LOUD = { red: true, orange: true };

  function el(id) { return document.getElementById(id); }

  function fitStage() {
    var root = el("wall-root"), stage = el("wall-stage");
    if (!root || !stage) return;
    var w = window.innerWidth, h = window.innerHeight, sx = w / STAGE_W, sy = h / STAGE_H;
    var fit = root.dataset.fit;
    if (fit === "width") { sy = sx; } else if (fit !== "stretch") { sx = sy = Math.min(sx, sy); }
    var tx = (w - STAGE_W * sx) / 2, ty = Math.max(0, (h - STAGE_H * sy) / 2);
    stage.style.transform = "translate(" + tx + "px," + ty + "px) scale(" + sx + "," + sy + ")";
    stage.dataset.fitted = "1";
  }

  function strings() {
    if (!state.strings) {
      var root = el("wall-root");
      state.strings = root ? JSON.parse(root.dataset.strings || "{}") : {};
    }
    return state.strings;
  }

  function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function num(x) { return x === null || x === undefined ? "—" : Number(x).toLocaleString("zh-CN"); }
  /* data-format comes from bigscreen.screens.presentation.display_format: the home page reads the same */
  function show(format, x) {
    if (x === null || x === undefined) return "—";
    if (format === "percent") return pct(x);
    if (format === "decimal") return Number(x).toFixed(1);
    return num(x);
  }

  /* Reuse list items instead of rebuilding them: a wall runs for months. */
  function syncList(list, items, fill) {
    if (!list) return;
    while (list.children.length > items.length) list.removeChild(list.lastChild);
    while (list.children.length < items.length) list.appendChild(document.createElement("li"));
    items.forEach(function (item, i) { fill(list.children[i], item, i); });
  }

  function part(li, cls, tag) {
    var found = li.querySelector(":scope > ." + cls);
    if (!found) { found = document.createElement(tag || "span"); found.className = cls; li.appendChild(found); }
    return found;
  }

  /* Write only what changed: a frame comes every second, mostly what the wall already shows, and each
     write costs the kiosk's browser a layout and a paint (an idle wall rewrote ~80 nodes a second). */
  function setText(node, text) { if (node && node.textContent !== text) node.textContent = text; }  /* a node the page lacks: nothing */
  function setData(node, key, value) { if (node.dataset[key] !== value) node.dataset[key] = value; }
  function setStyle(node, name, value) { if (node.style.getPropertyValue(name) !== value) node.style.setProperty(name, value); }

  function drawKpis(f) {
    Object.keys(f.kpi).forEach(function (name) {
      var node = el("wall-kpi-" + name);
      if (!node) return;
      var v = f.kpi[name];
      setText(node, show(node.dataset.format, v));
      setData(node, "value", v === null || v === undefined ? "" : String(v));
    });
    ["closure_rate", "ontime_rate", "satisfaction"].forEach(function (name) {
      var ring = el("wall-gauge-" + name), v = f.kpi[name], target = f.targets[name];
      if (!ring) return;
      setStyle(ring, "--pct", String(v === null ? 0 : v * 100));
      ring.classList.toggle("below-target", v !== null && v < target);
      setText(el("wall-gauge-" + name + "-value"), pct(v));
      setText(el("wall-gauge-" + name + "-target"), pct(target));
    });
  }

  function drawBars(f) {
    var max = Math.max.apply(null, [1].concat(f.categories.map(function (c) { return c.count; })));
    var lang = strings().lang;
    syncList(el("wall-categories"), f.categories, function (li, c) {
      setText(part(li, "bar-name"), lang === "en" ? c.name_en : c.name);
      setStyle(part(li, "bar-track"), "--w", (100 * c.count / max).toFixed(1) + "%");
      setText(part(li, "bar-count"), num(c.count));
    });
    function ranking(list, rows) {
      syncList(list, rows, function (li, r, i) {
        /* the best few, then the last few: a gap in the ranks starts the laggards */
        li.classList.toggle("rank-after-gap", i > 0 && r.rank > rows[i - 1].rank + 1);
        setText(part(li, "rank-no"), String(r.rank || i + 1));
        setText(part(li, "rank-name"), r.name);
        setStyle(part(li, "bar-track"), "--w", r.ontime_rate === null ? "0%" : (100 * r.ontime_rate).toFixed(1) + "%");
        setText(part(li, "rank-rate"), pct(r.ontime_rate));
      });
    }
    ranking(el("wall-streets"), f.areas);
    ranking(el("wall-departments"), f.departments);
  }

  function drawTrend(f) {
    var t = f.trend, max = Math.max.apply(null, [1].concat(t.reported, t.closed));
    var cols = t.hours.map(function (h, i) { return { h: h, r: t.reported[i], c: t.closed[i] }; });
    syncList(el("wall-trend-list") || makeTrendList(), cols, function (li, c, i) {
      setStyle(part(li, "trend-r"), "height", (100 * c.r / max).toFixed(1) + "%");
      setStyle(part(li, "trend-c"), "height", (100 * c.c / max).toFixed(1) + "%");
      setText(part(li, "trend-h"), i % 3 === 0 ? c.h.slice(0, 2) : "");
      var title = c.h + "  " + c.r + " / " + c.c;
      if (li.title !== title) li.title = title;
    });
  }

  function makeTrendList() {
    var box = el("wall-trend"), list = document.createElement("ol");
    list.id = "wall-trend-list";
    list.className = "trend-cols";
    if (box) box.appendChild(list);
    return list;
  }

  function drawFeed(f) {
    var s = strings(), tz = s.timezone || "Asia/Shanghai";
    var fmt = new Intl.DateTimeFormat("zh-CN", { timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false });
    syncList(el("wall-feed"), f.feed, function (li, e) {
      setData(li, "event", String(e.id));
      setText(part(li, "feed-time"), e.at ? fmt.format(new Date(e.at)) : "");
      setText(part(li, "feed-place"), e.grid);
      setText(part(li, "feed-text"), e.text);
      setText(part(li, "feed-status"), s[e.status] || e.status || "");
    });
  }

  /* The server's clock now: its frame time plus what passed here since, so ages do not depend on
     the kiosk's clock being right. */
  function serverNow(now) { return state.builtMs + (now - state.receivedAt); }

  function ageText(ms) {
    var s = strings(), sp = s.lang === "en" ? " " : "", sec = Math.max(0, Math.floor(ms / 1000));
    if (sec < 60) return sec + sp + s.age_s;
    var min = Math.floor(sec / 60);
    if (min < 60) return min + sp + s.age_min;
    var h = Math.floor(min / 60);
    if (h < 24) return h + sp + s.age_h + (min % 60 ? " " + (min % 60) + sp + s.age_min : "");
    return Math.floor(h / 24) + sp + s.age_d;
  }

  /* The ticker: most severe first, a card each; titles are citizens' words, so text only. */
  function drawAlerts(f) {
    var s = strings(), alerts = f.alerts || [];
    var total = el("wall-alerts-total"), none = el("wall-alerts-none");
    setText(total, num(f.alerts_total || 0));
    if (none && none.hidden !== alerts.length > 0) none.hidden = alerts.length > 0;
    syncList(el("wall-alerts"), alerts, function (li, a) {
      setData(li, "alert", String(a.id));
      setData(li, "status", a.status);
      setData(li, "raised", String(a.raised_at));
      var cls = "alert alert-" + a.colour + " is-" + a.status;
      if (li.className !== cls) li.className = cls;
      setText(part(li, "alert-chip"), s["alert_" + a.colour] || a.colour);
      var body = part(li, "alert-body", "div");
      setText(part(body, "alert-title", "div"), a.title);
      var meta = part(body, "alert-meta", "div");
      setText(part(meta, "alert-area"), a.area_name || "");
      setText(part(meta, "alert-count"), a.count > 1 ? "×" + a.count : "");
      setText(part(meta, "alert-state"), a.status === "acknowledged" ? s.alert_acknowledged + " · " + (a.owner || "") : s.alert_open);
      part(meta, "alert-age");
    });
    /* a card that was not there before: show its page now */
    var before = state.tickerIds, fresh = -1;
    alerts.forEach(function (a, i) { if (before && !before[a.id] && fresh < 0) fresh = i; });
    state.tickerIds = {};
    alerts.forEach(function (a) { state.tickerIds[a.id] = true; });
    if (fresh >= 0) { state.alertPage = Math.floor(fresh / ALERTS_PER_PAGE); state.alertPageSince = Date.now(); }
  }

  /* Once a second: each card's age, and the page of cards shown when more than fit. */
  function alertAges(now) {
    var list = el("wall-alerts");
    if (!list || !state.receivedAt) return;
    var at = serverNow(now), n = list.children.length, pages = Math.max(1, Math.ceil(n / ALERTS_PER_PAGE));
    if (now - state.alertPageSince >= ALERT_PAGE_MS) { state.alertPage += 1; state.alertPageSince = now; }
    if (state.alertPage >= pages) state.alertPage = 0;
    for (var i = 0; i < n; i++) {
      var li = list.children[i], node = li.querySelector(".alert-age");
      var hide = Math.floor(i / ALERTS_PER_PAGE) !== state.alertPage;
      if (li.hidden !== hide) li.hidden = hide;
      setText(node, "· " + ageText(at - Number(li.dataset.raised)));
    }
    var page = el("wall-alerts-page");
    setText(page, pages > 1 ? (state.alertPage + 1) + "/" + pages : "");
  }

  /* Red and orange alerts mark their community (outline, through hideout) and their place (a
     marker that pulses until someone acknowledges); a new one may chime. */
  function alertMarks(f, first) {
    var marks = f.alert_marks || [], areas = {}, seen = {}, fresh = false;
    marks.forEach(function (m) {
      var tone = m.status === "open" ? m.colour : "calm";
      if (m.community && (!areas[m.community] || areas[m.community] === "calm" || (areas[m.community] === "orange" && tone === "red"))) {
        areas[m.community] = tone;
      }
      seen[m.id] = true;
      if (m.status === "open" && LOUD[m.colour] && state.alertsSeen && !state.alertsSeen[m.id]) fresh = true;
    });
    state.alertsSeen = seen;  /* what was there at load does not chime */
    state.alertAreas = areas;
    state.alertMarks = marks.filter(function (m) { return m.lat !== null && m.lat !== undefined; });
    var audio = chimeAudio();  /* loaded with the first frame, played for a new one */
    if (audio && fresh && !first) {
      try {
        audio.currentTime = 0;
        var played = audio.play();  /* refused without a user gesture unless the kiosk allows autoplay */
        if (played && played.catch) played.catch(function () {});
      } catch (e) { /* no sound is no reason to stop drawing */ }
    }
  }

  /* config alerts.sound: the chime (our own asset), or null */
  function chimeAudio() {
    var root = el("wall-root");
    if (!root || root.dataset.sound !== "1" || !window.Audio) return null;
    if (!state.chime) { state.chime = new Audio(root.dataset.chime); state.chime.preload = "auto"; }
    return state.chime;
  }

  function markerChildren() {
    var out = state.pulses.map(function (p) {
      return { type: "DivMarker", namespace: "dash_leaflet", props: {
        id: "pulse-" + p.e.id, position: [p.e.lat, p.e.lon], interactive: false, keyboard: false,
        iconOptions: { className: p.e.urgent ? "pulse urgent" : "pulse", iconSize: [18, 18], html: "<span></span>" } } };
    });
    state.alertMarks.forEach(function (m) {
      var open = m.status === "open", size = open ? 38 : 18;
      out.push({ type: "DivMarker", namespace: "dash_leaflet", props: {
        id: "alert-" + m.id + "-" + m.status, position: [m.lat, m.lon], interactive: false, keyboard: false, zIndexOffset: 1000,
        iconOptions: { className: "alert-mark alert-" + m.colour + " is-" + m.status + " alert-mark-" + m.id,
                       iconSize: [size, size], html: "<span></span>" } } });
    });
    return out;
  }

  /* Dash's renderer keeps every change of a callback input as an undo step (undo is off here):
     a frame a second would pile up ~190 MB an hour. Keep the last few. */
  function trimHistory() {
    var history = window.store && window.store.getState && window.store.getState().history;
    if (history && history.past && history.past.length > HISTORY_KEEP) {
      history.past.splice(0, history.past.length - HISTORY_KEEP);
    }
  }

  function tick() {
    trimHistory();
    var s = strings(), clock = el("wall-clock");
    if (!clock) return;
    if (!el("wall-stage").dataset.fitted) fitStage();
    if (!state.clockFmt) {
      state.clockFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: s.timezone || "Asia/Shanghai", year: "numeric",
        month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    }
    setText(clock, state.clockFmt.format(new Date()));
    var now = Date.now(), age = state.builtMs ? now - state.builtMs : null;
    rotate(now);
    alertAges(now);
    if (age !== null && (age < 0 || age > 864e5)) age = now - state.receivedAt;  /* clocks disagree: trust arrival */
    setText(el("wall-age"), age === null ? "—" : Math.round(age / 1000) + " " + (s.seconds_ago || "s"));
    if (state.receivedAt && now - state.receivedAt > POLL_AFTER_MS && window.dash_clientside.set_props) {
      /* pushed frames stopped: poll until the push channel comes back and turns polling off */
      state.polling = true;
      window.dash_clientside.set_props("wall-tick", { disabled: false });
    }
    var stale = state.receivedAt === 0 ? now - state.loadedAt > STALE_MS : now - state.receivedAt > STALE_MS;
    var banner = el("wall-stale");
    if (banner.hidden !== !stale) banner.hidden = !stale;
    el("wall-stage").classList.toggle("is-stale", stale);
    if (stale && now - Math.max(state.receivedAt, state.loadedAt) > RELOAD_AFTER_MS && navigator.onLine !== false) {
      window.location.reload();  /* a page that has given up comes back with its URL and settings */
    }
  }

  /* Whether the frame's map is the page's (data-map-key, sent with the page). When the city's areas
     changed since this page was built, it loads again (its geometry and people figures too), at most
     once a minute, whichever cloud is shown, and leaves the colours as they are meanwhile. */
  function sameMap(m) {
    var root = el("wall-root");
    if (!root) return false;
    if (state.mapCodesKey !== root.dataset.mapKey) {
      state.mapCodesKey = root.dataset.mapKey;
      state.mapCodes = JSON.parse(root.dataset.mapCodes || "[]");
    }
    if (m.key === state.mapCodesKey) return true;
    if (Date.now() - state.loadedAt > 60000) window.location.reload();
    return false;
  }

  /* The frame carries the map's numbers against the order of the page's area codes
     (data-map-codes, sent once with the page); hideout wants {code: value}. */
  function mapValues(m) {
    var out = {}, i = -1;  /* m.open: [skip, value, skip, value, ...] (bigscreen.wall.frame.sparse) */
    for (var k = 0; k + 1 < m.open.length; k += 2) {
      i += m.open[k] + 1;
      out[state.mapCodes[i]] = m.open[k + 1];
    }
    return out;
  }

  function hideout(f) {
    if (!sameMap(f.map)) return window.dash_clientside.no_update;
    var cloud = CLOUDS[state.cloud], prop = CLOUD_PROPERTY[cloud];
    var areas = state.alertAreas, key = cloud + "|" + JSON.stringify(areas) + "|" + (prop ? "" : f.map.key + f.map.open.join(","));
    if (key === state.mapKey) return window.dash_clientside.no_update;  /* a recolour costs the browser ~80 ms */
    var values = prop ? null : mapValues(f.map);
    state.mapKey = key;
    var top = prop ? f.static.max[prop] : f.map.max;
    var legendMax = el("wall-map-legend-max");
    setText(legendMax, num(top));
    return prop ? { property: prop, alerts: areas, max: Math.max(1, top) } : { values: values, alerts: areas, max: Math.max(1, top) };
  }

  function showCloud() {
    var s = strings(), cloud = CLOUDS[state.cloud];
    var title = el("wall-map-panel-title"), legend = document.querySelector("#wall-map-legend .map-legend-title");
    setText(title, s["cloud." + cloud] || "");
    setText(legend, s["cloud.legend." + cloud] || "");
    document.querySelectorAll(".cloud-figures").forEach(function (box) {
      box.hidden = !box.classList.contains("cloud-" + cloud);
    });
  }

  /* "group.name": the city's people and workforce (f.static) or today's field work (f.field_work) */
  function figure(f, path) {
    var parts = path.split("."), group = parts[0] === "field_work" ? f.field_work : f.static[parts[0]];
    return parts[1] === "grids" ? f.static.grids : group && group[parts[1]];
  }

  function drawStatic(f) {
    document.querySelectorAll("[data-figure]").forEach(function (node) {
      setText(node, num(figure(f, node.dataset.figure)));
    });
    document.querySelectorAll("[data-progress]").forEach(function (node) {
      var pair = node.dataset.progress.split("/"), done = figure(f, pair[0]) || 0, goal = figure(f, pair[1]) || 0;
      setStyle(node, "--w", goal > 0 ? Math.min(100, 100 * done / goal).toFixed(1) + "%" : "0%");
    });
  }

  function rotate(now) {
    var root = el("wall-root"), every = root ? Number(root.dataset.rotate) || 0 : 0;
    if (every > 0 && now - state.cloudSince >= every * 1000) {
      state.cloud = (state.cloud + 1) % CLOUDS.length;
      state.cloudSince = now;
      showCloud();
    }
  }

  /* New events pulse on the map for a few seconds; what was on screen at load does not. */
  function pulses(f, first) {
    var now = Date.now(), before = state.pulses.length, fresh = [];
    f.feed.forEach(function (e) {
      if (e.lat === null || state.seen[e.id]) return;
      state.seen[e.id] = now;
      if (!first) fresh.push({ t: now, e: e });
    });
    var ids = Object.keys(state.seen);
    if (ids.length > 500) ids.slice(0, ids.length - 200).forEach(function (id) { delete state.seen[id]; });
    state.pulses = state.pulses.filter(function (p) { return now - p.t < PULSE_MS; }).concat(fresh);
    var marks = state.alertMarks.map(function (m) { return m.id + m.status; }).join(",");
    if (!fresh.length && state.pulses.length === before && marks === state.marksKey) return window.dash_clientside.no_update;
    state.marksKey = marks;
    return markerChildren();
  }

  /* A pushed delta (bigscreen.wall.delta): edits that turn the frame numbered `base` into frame
     `seq`, each [path, value] (set), [path] (delete) or [path, start, count, items] (splice). */
  function applyDelta(f, ops) {
    ops.forEach(function (op) {
      var path = op[0], node = f, last = op.length === 4 ? path.length : path.length - 1;
      for (var i = 0; i < last; i++) node = node[path[i]];
      if (op.length === 4) Array.prototype.splice.apply(node, [op[1], op[2]].concat(op[3]));
      else if (op.length === 2) node[path[last]] = op[1];
      else delete node[path[last]];
    });
    return f;
  }

  /* Polling on (for one whole frame now, and until a delta shows the push channel alive) or off. */
  function polling(on) {
    if (state.polling === on || !window.dash_clientside.set_props) return;
    state.polling = on;
    var props = { disabled: !on };
    if (on) props.n_intervals = -(state.asked = (state.asked || 0) + 1);  /* a new value: the polling callback runs now */
    window.dash_clientside.set_props("wall-tick", props);
  }

  /* The frame a message brings: a whole frame (pushed or polled), or the held one with a delta
     applied; null when the delta does not start from the frame held (one was skipped): then a
     whole frame is asked for, and the picture stays as it is until it comes. */
  function frameOf(data) {
    var msg = JSON.parse(data);
    if (!msg.ops) return msg;
    var held = state.frame;
    if (held && held.seq === msg.seq) return held;  /* a poll brought it already */
    if (!held || held.seq !== msg.base) { polling(true); return null; }
    try {
      applyDelta(held, msg.ops);
    } catch (e) {
      state.frame = null;  /* half applied: wait for a whole frame */
      polling(true);
      return null;
    }
    polling(false);  /* only the push channel sends deltas: it is alive */
    return held;
  }

  function render(data) {
    var none = window.dash_clientside.no_update;
    if (!data) return [none, none, none];
    var f = frameOf(data);
    if (!f) return [none, none, none];
    state.frame = f;
    if (f.built_ms === state.builtMs) return [none, none, none];
    var first = state.builtMs === 0;
    state.receivedAt = Date.now();
    state.builtMs = f.built_ms;
    drawKpis(f);
    drawBars(f);
    drawTrend(f);
    drawFeed(f);
    drawStatic(f);
    drawAlerts(f);
    alertMarks(f, first);
    tick();
    return [f.built_ms, hideout(f), pulses(f, first)];
  }

  window.addEventListener("resize", fitStage);
  setInterval(function () { if (el("wall-root")) tick(); }, 1000);
  window.dash_clientside = Object.assign({}, window.dash_clientside, { wall: { render: render } });
})();
