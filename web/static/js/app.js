/* Waypoint: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Arrays of objects in forms: add and remove rows from a <template>.
  function renumber(list, name) {
    Array.prototype.forEach.call(list.children, function (row, index) {
      row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) {
            var dotted = new RegExp("^" + name.replace(/\./g, "\\.") + "\\.(\\d+|__index__)\\.");
            var dashed = new RegExp("f-" + name.replace(/\./g, "-") + "-(\\d+|__index__)-", "g");
            value = value.replace(dotted, name + "." + index + ".").replace(dashed, "f-" + name.replace(/\./g, "-") + "-" + index + "-");
            el.setAttribute(attr, value);
          }
        });
      });
    });
  }

  document.querySelectorAll("[data-rows]").forEach(function (group) {
    var name = group.getAttribute("data-rows");
    var list = group.querySelector(".row-list");
    var template = group.querySelector("template[data-row-template]");
    group.addEventListener("click", function (event) {
      var target = event.target;
      if (target.matches("[data-add-row]")) {
        list.appendChild(template.content.cloneNode(true));
        renumber(list, name);
        var first = list.lastElementChild.querySelector("input, select, textarea");
        if (first) { first.focus(); }
      } else if (target.matches("[data-remove-row]")) {
        var row = target.closest(".row-item");
        row.parentNode.removeChild(row);
        renumber(list, name);
        group.querySelector("[data-add-row]").focus();
      }
    });
  });

  // "Select all" in the inbox.
  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=task_ids]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  // The request diagram (bpmn-js viewer from the npm registry), with done/current steps marked.
  window.addEventListener("load", function () {
    var holder = document.getElementById("diagram");
    if (!holder || typeof window.BpmnJS !== "function") { return; }
    fetch(holder.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) {
        var viewer = new window.BpmnJS({ container: holder });
        return viewer.importXML(xml).then(function () {
          var canvas = viewer.get("canvas");
          var registry = viewer.get("elementRegistry");
          holder.querySelector(".diagram-fallback").remove();
          canvas.zoom("fit-viewport");
          ["done", "current"].forEach(function (kind) {
            (holder.getAttribute("data-" + kind) || "").split(" ").forEach(function (id) {
              if (id && registry.get(id)) { canvas.addMarker(id, "wp-" + kind); }
            });
          });
          holder.setAttribute("data-ready", "true");
        });
      })
      .catch(function () { holder.setAttribute("data-ready", "failed"); });
  });
})();
