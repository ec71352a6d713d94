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

  // Keyboard shortcuts (the list is the #shortcuts dialog in base.html; `?` opens it). Single keys act only
  // outside text fields and can be turned off (WCAG 2.1.4), remembered in this browser.
  var help = document.getElementById("shortcuts");
  var toggle = document.getElementById("shortcuts-toggle");
  function shortcutsOn() { return window.localStorage.getItem("wp-shortcuts") !== "off"; }
  function showToggle() {
    var opener = document.getElementById("shortcuts-open");
  if (opener && help) { opener.addEventListener("click", function () { help.showModal(); }); }
  if (toggle) { toggle.textContent = toggle.getAttribute(shortcutsOn() ? "data-on" : "data-off"); }
  }
  if (toggle) {
    toggle.addEventListener("click", function () {
      window.localStorage.setItem("wp-shortcuts", shortcutsOn() ? "off" : "on");
      showToggle();
    });
    showToggle();
  }
  function typing(target) {
    // an open dialog keeps the keys; a closed one may still hold the focus for a moment after Escape
    return target.closest("input, textarea, select, [contenteditable=true], dialog[open]") !== null;
  }
  function inboxRows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-table tbody tr"));
  }
  function moveInInbox(step) {
    var rows = inboxRows();
    if (!rows.length) { return; }
    var current = rows.findIndex(function (row) { return row.classList.contains("kb-current"); });
    var next = Math.min(Math.max(current + step, 0), rows.length - 1);
    if (current >= 0) { rows[current].classList.remove("kb-current"); }
    rows[next].classList.add("kb-current");
    rows[next].querySelector("a").focus();
  }
  function currentRow() { return document.querySelector("#inbox-table tr.kb-current"); }
  var actions = {
    "?": function () { if (help) { help.showModal(); } },
    "/": function () { var box = document.getElementById("filter-q"); if (box) { box.focus(); box.select(); } },
    "j": function () { moveInInbox(1); },
    "k": function () { moveInInbox(-1); },
    "o": function () { var row = currentRow(); if (row) { row.querySelector("a").click(); } },
    "x": function () {
      var box = currentRow() && currentRow().querySelector("input[name=task_ids]");
      if (box) { box.checked = !box.checked; }
    },
    "a": function () { var button = document.querySelector("button.decision-approve"); if (button) { button.focus(); } },
    "i": function () { var home = document.querySelector(".brand a"); if (home) { window.location.href = home.href; } }
  };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var action = actions[event.key];
    if (!action || !help || !shortcutsOn()) { return; }
    event.preventDefault();
    action();
  });

  // The request diagram's view: readable at 100 % around the current step, zoom buttons, and arrow
  // keys that move it while it has focus (the buttons and the diagram are both reachable by Tab).
  function diagramControls(holder, canvas, registry) {
    function showCurrent() {
      var ids = (holder.getAttribute("data-current") || "").split(" ").filter(function (id) { return registry.get(id); });
      canvas.zoom("fit-viewport");
      if (!ids.length) { return; }
      var box = canvas.viewbox();
      var element = registry.get(ids[0]);
      var scale = Math.max(box.scale, 1);
      canvas.zoom(scale, { x: element.x + element.width / 2, y: element.y + element.height / 2 });
      var now = canvas.viewbox();
      canvas.viewbox({ x: element.x + element.width / 2 - now.width / 2, y: element.y + element.height / 2 - now.height / 2,
                       width: now.width, height: now.height });
    }
    var actions = {
      "in": function () { canvas.zoom(canvas.zoom() * 1.25); },
      "out": function () { canvas.zoom(canvas.zoom() / 1.25); },
      "current": showCurrent,
      "all": function () { canvas.zoom("fit-viewport"); }
    };
    var tools = holder.parentNode.querySelector(".diagram-tools");
    if (tools) {
      tools.hidden = false;
      tools.addEventListener("click", function (event) {
        var action = actions[event.target.getAttribute("data-zoom")];
        if (action) { action(); holder.setAttribute("data-scale", canvas.zoom().toFixed(2)); }
      });
    }
    holder.tabIndex = 0;
    holder.setAttribute("role", "region");
    holder.setAttribute("aria-labelledby", "diagram-caption");
    holder.addEventListener("keydown", function (event) {
      var step = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] }[event.key];
      if (step) { event.preventDefault(); canvas.scroll({ dx: step[0], dy: step[1] }); }
    });
    showCurrent();
    holder.setAttribute("data-scale", canvas.zoom().toFixed(2));
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
          ["done", "current"].forEach(function (kind) {
            (holder.getAttribute("data-" + kind) || "").split(" ").forEach(function (id) {
              if (id && registry.get(id)) { canvas.addMarker(id, "wp-" + kind); }
            });
          });
          diagramControls(holder, canvas, registry);
          holder.setAttribute("data-ready", "true");
        });
      })
      .catch(function () { holder.setAttribute("data-ready", "failed"); });
  });
  // Long lists of choices (the country picker, a select or a set of checkboxes): a search box above
  // the list keeps only the entries whose name (accents and case ignored) or code matches what is
  // typed, and the entries are sorted by their name in the page's language.
  var LONG_LIST = 40;
  var pageLanguage = document.documentElement.lang || "en";
  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function addSearch(before, label, entries, nameOf, codeOf) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "list-search";
    box.setAttribute("data-list-search", "");
    var hint = pageLanguage === "fr" ? "chercher dans la liste" : "search the list";
    box.setAttribute("aria-label", label ? label + " : " + hint : hint);
    box.placeholder = pageLanguage === "fr" ? "Chercher…" : "Search…";
    box.addEventListener("input", function () {
      var wanted = fold(box.value.trim());
      entries.forEach(function (entry) {
        entry.hidden = !(!wanted || fold(nameOf(entry)).indexOf(wanted) >= 0 || fold(codeOf(entry)) === wanted);
      });
    });
    before.parentNode.insertBefore(box, before);
  }
  function byName(nameOf) {
    return function (a, b) { return nameOf(a).localeCompare(nameOf(b), pageLanguage); };
  }
  document.querySelectorAll("select").forEach(function (select) {
    if (select.options.length <= LONG_LIST) { return; }
    var options = Array.prototype.slice.call(select.options).filter(function (o) { return o.value !== ""; });
    var text = function (o) { return o.text; };
    options.sort(byName(text)).forEach(function (o) { select.appendChild(o); });
    var label = select.labels && select.labels[0] ? select.labels[0].firstChild.textContent.trim() : "";
    addSearch(select, label, options, text, function (o) { return o.value; });
  });
  document.querySelectorAll("fieldset.choice").forEach(function (set) {
    var entries = Array.prototype.slice.call(set.querySelectorAll(".option"));
    if (entries.length <= LONG_LIST) { return; }
    var name = function (e) { return e.textContent.trim(); };
    entries.sort(byName(name)).forEach(function (e) { set.appendChild(e); });
    var legend = set.querySelector("legend");
    addSearch(entries[0], legend ? legend.textContent.trim() : "", entries, name, function (e) {
      return e.querySelector("input").value;
    });
  });
  // Money: a running total under a group of amounts, and the start form's approval route (both live regions).
  function amount(text) {
    var cleaned = text.replace(/[\s\u00a0\u202f$]/g, "");
    cleaned = cleaned.indexOf(",") >= 0 && cleaned.indexOf(".") < 0 ? cleaned.replace(",", ".") : cleaned.replace(/,/g, "");
    var value = cleaned === "" ? 0 : Number(cleaned);
    return isFinite(value) ? value : NaN;
  }
  var moneyFormat = new Intl.NumberFormat(document.documentElement.lang === "fr" ? "fr-CA" : "en-CA",
    { style: "currency", currency: "CAD" });
  document.querySelectorAll("[data-money-total]").forEach(function (line) {
    var group = line.closest("fieldset");
    var out = line.querySelector("output");
    var update = function () {
      var sum = 0;
      group.querySelectorAll("input[data-money]").forEach(function (input) { sum += amount(input.value); });
      if (!isNaN(sum)) { out.textContent = moneyFormat.format(sum); }
    };
    group.addEventListener("input", update);
  });
  var route = document.getElementById("route-preview");
  if (route && window.fetch) {
    var routeForm = route.closest("form");
    var routeTimer = null;
    var askRoute = function () {
      var body = new FormData(routeForm);
      routeForm.querySelectorAll("input[type=file]").forEach(function (input) { body.delete(input.name); });
      fetch(route.getAttribute("data-route-url"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (found) {
          if (!found) { return; }
          route.hidden = false;
          document.getElementById("route-preview-text").textContent = found.text;
          document.getElementById("route-preview-reason").textContent = found.reason || "";
        })
        .catch(function () { /* the preview is a help; the form works without it */ });
    };
    var later = function () { window.clearTimeout(routeTimer); routeTimer = window.setTimeout(askRoute, 400); };
    routeForm.addEventListener("input", later);
    routeForm.addEventListener("change", later);
    askRoute();
  }
})();
