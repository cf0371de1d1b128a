/* Draws a report page's charts (bigscreen/screens/templates/report.html.j2) with plotly.js, both served
   by our own server (no inline script: the page's CSP allows scripts from 'self' only). Each chart's
   figure travels as JSON data beside its box. When all are drawn, <html data-charts="drawn">. */
(function () {
  "use strict";
  function draw() {
    var drawn = [];
    document.querySelectorAll("script.report-figure-spec").forEach(function (spec) {
      var figure = JSON.parse(spec.textContent);
      var box = document.getElementById(spec.getAttribute("data-target"));
      if (box) { drawn.push(Plotly.newPlot(box, figure.data, figure.layout, figure.config)); }
    });
    Promise.all(drawn).then(function () { document.documentElement.setAttribute("data-charts", "drawn"); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
