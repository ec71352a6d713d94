/* Waypoint process designer: read-only diagrams with elements marked (added, changed, removed). */
(function () {
  "use strict";
  window.addEventListener("load", function () {
    if (typeof window.BpmnJS !== "function") { return; }
    document.querySelectorAll(".wp-diagram[data-xml-url]").forEach(function (holder) {
      var markers = JSON.parse(holder.getAttribute("data-markers") || "{}");
      fetch(holder.getAttribute("data-xml-url"), { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (xml) {
          var viewer = new window.BpmnJS({ container: holder });
          return viewer.importXML(xml).then(function () {
            var canvas = viewer.get("canvas");
            var registry = viewer.get("elementRegistry");
            canvas.zoom("fit-viewport");
            Object.keys(markers).forEach(function (kind) {
              markers[kind].forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "wp-" + kind); } });
            });
            holder.setAttribute("data-ready", "true");
          });
        })
        .catch(function () { holder.setAttribute("data-ready", "failed"); });
    });
  });
})();
