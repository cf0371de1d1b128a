/* Map style functions, referenced from Python as {"variable": "bigscreen.map.<name>"}.
   hideout = {values: {code: number}, alerts: ..., max: number}
             or {property: name, alerts: ..., max: number} to colour by a feature property.
   alerts: [code] (outlined in the alert colour) or {code: "red" | "orange" | "calm"}: an
   unacknowledged red or orange alert outlines its area boldly, an acknowledged one ("calm") thinly. */
(function () {
  // Same stops as .map-legend-bar in map.css.
  const STOPS = [[0, [11, 42, 110]], [0.35, [0, 200, 255]], [0.7, [255, 221, 0]], [1, [255, 48, 48]]];
  const EMPTY = "#0a1f3d";
  const ALERT = "#ff7a1a";
  const ALERT_TONES = {
    red: {color: "#ff2d2d", weight: 4.5, opacity: 1},
    orange: {color: "#ff8c1a", weight: 4, opacity: 1},
    calm: {color: "#ffc86b", weight: 2, opacity: 0.85, dashArray: "6 5"},
  };

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

  // One Map per hideout, not one per feature: a restyle calls areaStyle for every polygon.
  let seenAlerts = null;
  let alertTones = new Map();
  function alerts(given) {
    if (given !== seenAlerts) {
      seenAlerts = given;
      alertTones = Array.isArray(given) ? new Map(given.map((code) => [code, null]))
        : new Map(Object.entries(given || {}));
    }
    return alertTones;
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
    const tones = alerts(h.alerts);
    if (tones.has(code)) {
      Object.assign(style, ALERT_TONES[tones.get(code)] || {color: ALERT, weight: 3.5, opacity: 1});
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
