/* Map style functions, referenced from Python as {"variable": "bigscreen.map.<name>"}.
   hideout = {values: {code: number}, alerts: [code], max: number}
             or {property: name, alerts: [code], max: number} to colour by a feature property. */
(function () {
  // Same stops as .map-legend-bar in map.css.
  const STOPS = [[0, [11, 42, 110]], [0.35, [0, 200, 255]], [0.7, [255, 221, 0]], [1, [255, 48, 48]]];
  const EMPTY = "#0a1f3d";
  const ALERT = "#ff7a1a";

  function colour(t) {
    t = Math.max(0, Math.min(1, t));
    for (let i = 1; i < STOPS.length; i++) {
      const [t1, c1] = STOPS[i];
      if (t <= t1) {
        const [t0, c0] = STOPS[i - 1];
        const f = (t - t0) / (t1 - t0);
        const c = c0.map((v, k) => Math.round(v + f * (c1[k] - v)));
        return "rgb(" + c.join(",") + ")";
      }
    }
    return "rgb(" + STOPS[STOPS.length - 1][1].join(",") + ")";
  }

  // One Set per hideout, not one per feature: a restyle calls areaStyle for every polygon.
  let seenAlerts = null;
  let alertSet = new Set();
  function alerts(list) {
    if (list !== seenAlerts) {
      seenAlerts = list;
      alertSet = new Set(list || []);
    }
    return alertSet;
  }

  function areaStyle(feature, context) {
    const h = (context && context.hideout) || {};
    const code = feature.properties.code;
    // `property`: colour by a figure the static geometry carries (population, workers ...)
    const v = h.property ? feature.properties[h.property] : (h.values ? h.values[code] : undefined);
    const style = {color: "#1d4f8f", weight: 0.6, opacity: 0.7, fill: true, fillOpacity: 0.82};
    if (v === undefined || v === null || v <= 0) {
      style.fillColor = EMPTY;
      style.fillOpacity = 0.7;
    } else {
      style.fillColor = colour(v / (h.max > 0 ? h.max : 1));
    }
    if (alerts(h.alerts).has(code)) {
      Object.assign(style, {color: ALERT, weight: 3.5, opacity: 1});
    }
    return style;
  }

  // dash-leaflet does not pass `interactive` on to a GeoJSON's features; this runs before each is added.
  function inert(feature, layer) {
    layer.options.interactive = false;
  }

  window.bigscreen = window.bigscreen || {};
  window.bigscreen.map = Object.assign({}, window.bigscreen.map, {areaStyle: areaStyle, inert: inert, colour: colour});
})();
