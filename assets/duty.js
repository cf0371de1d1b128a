/* The duty desk: a click on 签收 / 升级 / 解除 becomes one record in a store that the list's refreshes never
   re-render, so the server's answer to it is never dropped when the list is redrawn while it is on its way
   (the renderer keeps only the newest call of a callback, and a redrawn list calls the buttons' one again). */
(function () {
  "use strict";

  function pressed(_acks, _resolves, _escalates, _comments) {
    var ctx = window.dash_clientside.callback_context;
    var hit = null;
    (ctx.triggered || []).forEach(function (fired) {
      if (!hit && fired.value) hit = JSON.parse(fired.prop_id.slice(0, fired.prop_id.lastIndexOf(".")));
    });
    if (!hit) return window.dash_clientside.no_update;  /* a redrawn list, not a click */
    var comment = null;
    (ctx.states_list[0] || []).forEach(function (box) {
      if (box.id.alert === hit.alert) comment = box.value === undefined ? null : box.value;
    });
    return { type: hit.type, alert: hit.alert, comment: comment, at: Date.now() };
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { duty: { pressed: pressed } });
})();
