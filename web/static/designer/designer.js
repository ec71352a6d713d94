/* Waypoint process designer: the draft workspace.
 *
 * One bpmn-js Modeler per BPMN file (with the Waypoint properties panel), one dmn-js Modeler
 * per DMN file (decision tables), JSON text for JSON Schema forms (with a server-rendered live
 * preview) and scenarios, and form-js's visual editor for Camunda forms (`.form`). Edits are saved to the draft as they happen; Check, Simulate and Deploy save
 * first. Check findings and simulated paths are marked on the diagram.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("designer-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var csrf = (document.querySelector("input[name=csrf_token]") || {}).value || "";
  var root = document.getElementById("designer");
  var statusLine = document.getElementById("designer-status");
  var state = {
    current: null,
    kinds: {},
    texts: {},
    bpmn: {},
    dmn: {},
    formjs: {},
    dirty: {},
    saving: {},
    timers: {},
    moddle: null,
    findings: [],
    simulation: null,
    panel: null
  };

  document.querySelectorAll("[data-file]").forEach(function (button) {
    state.kinds[button.getAttribute("data-file")] = button.getAttribute("data-kind");
  });

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "designer-status" + (kind ? " " + kind : "");
  }

  function url(path) { return config.urls.files + path.split("/").map(encodeURIComponent).join("/"); }

  function post(target, body, type) {
    return fetch(target, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": type || "application/json" },
      body: body
    });
  }

  function escapeId(id) { return window.CSS && CSS.escape ? CSS.escape(id) : id; }

  // --- dirty tracking and saving -----------------------------------------------------------
  function markDirty(path) {
    state.dirty[path] = true;
    var flag = document.querySelector("[data-dirty-for=\"" + escapeId(path) + "\"]");
    if (flag) { flag.hidden = false; }
    clearTimeout(state.timers[path]);
    state.timers[path] = setTimeout(function () { save(path); }, 900);
  }

  function contentOf(path) {
    if (state.bpmn[path]) { return state.bpmn[path].modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); }
    if (state.dmn[path]) { return state.dmn[path].saveXML({ format: true }).then(function (r) { return r.xml; }); }
    if (state.formjs[path]) { return Promise.resolve(JSON.stringify(state.formjs[path].editor.saveSchema(), null, 2) + "\n"); }
    return Promise.resolve(state.texts[path]);
  }

  function save(path) {
    clearTimeout(state.timers[path]);
    if (!state.dirty[path]) { return Promise.resolve(true); }
    if (state.saving[path]) { return state.saving[path].then(function () { return save(path); }); }
    state.dirty[path] = false;
    var promise = contentOf(path).then(function (text) {
      var json = path.slice(-5) === ".json" || path.slice(-5) === ".form";
      return post(url(path), text, json ? "application/json" : "application/xml");
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          state.dirty[path] = true;
          say(path + ": not saved — " + (body.error || response.status), "error");
          return false;
        }
        if (!state.dirty[path]) {
          var flag = document.querySelector("[data-dirty-for=\"" + escapeId(path) + "\"]");
          if (flag) { flag.hidden = true; }
        }
        say(path + " saved.");
        return true;
      });
    }).catch(function (error) {
      state.dirty[path] = true;
      say(path + ": not saved — " + error, "error");
      return false;
    }).finally(function () { delete state.saving[path]; });
    state.saving[path] = promise;
    return promise;
  }

  function saveAll() {
    var paths = Object.keys(state.dirty).filter(function (p) { return state.dirty[p] || state.saving[p]; });
    return Promise.all(paths.map(save)).then(function (results) { return results.every(Boolean); });
  }

  // --- editors -----------------------------------------------------------------------------
  function descriptor() {
    if (!state.moddle) {
      state.moddle = fetch(config.urls.moddle, { credentials: "same-origin" }).then(function (r) { return r.json(); });
    }
    return state.moddle;
  }

  function fetchText(path) {
    return fetch(url(path), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(path + ": " + r.status); }
      return r.text();
    });
  }

  function openBpmn(path) {
    var host = document.getElementById("bpmn-host");
    host.hidden = false;
    Object.keys(state.bpmn).forEach(function (p) { state.bpmn[p].container.hidden = p !== path; });
    if (state.bpmn[path]) {
      state.bpmn[path].modeler.get("canvas").resized();
      showPanel(path);
      return state.bpmn[path].ready;
    }
    var container = document.createElement("div");
    container.className = "bpmn-canvas";
    container.setAttribute("data-canvas-for", path);
    host.appendChild(container);
    var entry = { container: container };
    state.bpmn[path] = entry;
    entry.ready = Promise.all([descriptor(), fetchText(path)]).then(function (loaded) {
      var modeler = new window.BpmnJS({ container: container, moddleExtensions: { spiffworkflow: loaded[0] } });
      entry.modeler = modeler;
      return modeler.importXML(loaded[1]).then(function (result) {
        modeler.get("canvas").zoom("fit-viewport");
        if (result.warnings && result.warnings.length) {
          say(path + ": the modeler could not read " + result.warnings.length + " part(s); saving this diagram would drop them: " +
            result.warnings.map(function (w) { return w.message; }).join("; "), "error");
        }
        modeler.on("commandStack.changed", function () { markDirty(path); refreshPanel(path); });
        modeler.on("selection.changed", function (event) { renderPanel(path, event.newSelection[0]); });
        modeler.on("element.click", function (event) { renderPanel(path, event.element); });
        container.setAttribute("data-ready", "true");
        showPanel(path);
        applyMarkers(path);
        return modeler;
      });
    }).catch(function (error) { say(path + ": cannot open — " + error, "error"); });
    return entry.ready;
  }

  function panelContext() {
    return {
      roles: config.roles,
      forms: function () { return config.files.filter(function (p) { return p.indexOf("forms/") === 0; }); },
      decisions: decisionIds,
      processes: processIds,
      onError: function (message) { say(message, "error"); }
    };
  }

  function showPanel(path) {
    var props = document.getElementById("props");
    props.hidden = false;
    var entry = state.bpmn[path];
    if (!entry || !entry.modeler) { return; }
    var selected = entry.modeler.get("selection").get()[0];
    renderPanel(path, selected || entry.modeler.get("canvas").getRootElement());
  }

  function renderPanel(path, element) {
    var entry = state.bpmn[path];
    if (!entry || !entry.modeler || state.current !== path) { return; }
    if (!entry.panel) { entry.panel = new window.WaypointProperties.Panel(entry.modeler, document.getElementById("props"), panelContext()); }
    entry.panel.render(element || entry.modeler.get("canvas").getRootElement());
  }

  function refreshPanel(path) {
    var entry = state.bpmn[path];
    if (entry && entry.panel && entry.panel.element) {
      var fresh = entry.modeler.get("elementRegistry").get(entry.panel.element.id);
      renderPanel(path, fresh || entry.modeler.get("canvas").getRootElement());
    }
  }

  function openDmn(path) {
    var host = document.getElementById("dmn-host");
    host.hidden = false;
    Object.keys(state.dmn).forEach(function (p) { state.dmn[p].container.hidden = p !== path; });
    if (state.dmn[path]) { return state.dmn[path].ready; }
    var container = document.createElement("div");
    container.className = "dmn-canvas";
    container.setAttribute("data-dmn-for", path);
    var views = document.createElement("div");
    views.className = "dmn-views";
    var body = document.createElement("div");
    container.appendChild(views);
    container.appendChild(body);
    host.appendChild(container);
    var modeler = new window.DmnJS({ container: body });
    state.dmn[path] = modeler;
    modeler.container = container;
    modeler.ready = fetchText(path).then(function (xml) {
      return modeler.importXML(xml);
    }).then(function () {
      var tables = modeler.getViews().filter(function (v) { return v.type === "decisionTable"; });
      views.innerHTML = "";
      tables.forEach(function (view) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "small secondary";
        button.textContent = view.name || view.id;
        button.addEventListener("click", function () { modeler.open(view); });
        views.appendChild(button);
      });
      modeler.on("views.changed", function () { watchDmn(path, modeler); applyMarkers(path); });
      if (tables.length) { return modeler.open(tables[0]); }
      return null;
    }).then(function () {
      watchDmn(path, modeler);
      container.setAttribute("data-ready", "true");
      applyMarkers(path);
    }).catch(function (error) { say(path + ": cannot open — " + error, "error"); });
    return modeler.ready;
  }

  function watchDmn(path, modeler) {
    var viewer = modeler.getActiveViewer();
    if (!viewer || viewer.__waypointWatched) { return; }
    viewer.__waypointWatched = true;
    viewer.on("commandStack.changed", function () { markDirty(path); });
  }

  // A Camunda form (form-js JSON) in form-js's own editor: palette, canvas and properties panel.
  function openFormjs(path) {
    var host = document.getElementById("formjs-host");
    host.hidden = false;
    Object.keys(state.formjs).forEach(function (p) { state.formjs[p].container.hidden = p !== path; });
    if (state.formjs[path]) { return state.formjs[path].ready; }
    if (!window.FormEditor) { say("The form editor (form-js) did not load.", "error"); return Promise.resolve(); }
    var container = document.createElement("div");
    container.className = "formjs-editor";
    container.setAttribute("data-formjs", path);
    host.appendChild(container);
    var editor = new window.FormEditor.FormEditor({ container: container });
    var entry = { editor: editor, container: container };
    state.formjs[path] = entry;
    container.__formEditor = editor;  // for the browser test's edits
    entry.ready = fetchText(path).then(function (text) {
      return editor.importSchema(JSON.parse(text));
    }).then(function () {
      editor.on("changed", function () { markDirty(path); });
    }).catch(function (error) { say(path + ": cannot open — " + error, "error"); });
    return entry.ready;
  }

  function openJson(path) {
    var host = document.getElementById("json-host");
    host.hidden = false;
    var editor = document.getElementById("json-editor");
    var load = state.texts[path] !== undefined ? Promise.resolve(state.texts[path]) : fetchText(path);
    return load.then(function (text) {
      state.texts[path] = text;
      editor.value = text;
      editor.setAttribute("data-path", path);
      document.getElementById("json-label").textContent = path;
      jsonChanged(path, false);
    });
  }

  function jsonChanged(path, edited) {
    var text = state.texts[path];
    var error = document.getElementById("json-error");
    var parsed = null;
    try { parsed = JSON.parse(text); error.hidden = true; }
    catch (e) { error.hidden = false; error.textContent = "Not valid JSON yet: " + e.message; }
    if (state.kinds[path] === "forms") { preview(text); }
    if (state.kinds[path] === "scenarios") { listScenarios(parsed); }
    if (edited && parsed !== null) { markDirty(path); }
    if (edited && parsed === null) { state.dirty[path] = true; }
  }

  var previewTimer = null;
  function preview(text) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () {
      post(config.urls.preview, text, "application/json").then(function (r) { return r.text(); }).then(function (html) {
        document.getElementById("form-preview").innerHTML = html;
      });
    }, 300);
  }

  function listScenarios(doc) {
    var list = document.getElementById("scenario-list");
    list.innerHTML = "";
    ((doc && doc.scenarios) || []).forEach(function (scenario) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "small secondary";
      button.textContent = "Run";
      button.setAttribute("data-scenario", scenario.name);
      button.setAttribute("aria-label", "Run scenario " + scenario.name);
      button.addEventListener("click", function () { simulate(scenario.name); });
      item.appendChild(button);
      item.appendChild(document.createTextNode(" " + scenario.name));
      list.appendChild(item);
    });
  }

  document.getElementById("json-editor").addEventListener("input", function (event) {
    var path = event.target.getAttribute("data-path");
    if (!path) { return; }
    state.texts[path] = event.target.value;
    jsonChanged(path, true);
  });

  function open(path) {
    if (!state.kinds[path]) { return Promise.resolve(); }
    state.current = path;
    document.querySelectorAll("[data-file]").forEach(function (b) {
      if (b.getAttribute("data-file") === path) { b.setAttribute("aria-current", "true"); } else { b.removeAttribute("aria-current"); }
    });
    ["bpmn-host", "dmn-host", "formjs-host", "json-host", "props", "form-preview-pane", "scenario-pane"].forEach(function (id) {
      document.getElementById(id).hidden = true;
    });
    document.getElementById("editor-title").textContent = path;
    var kind = state.kinds[path];
    root.setAttribute("data-current", path);
    if (kind === "bpmn") { return openBpmn(path); }
    if (kind === "dmn") { return openDmn(path); }
    if (kind === "formjs") { return openFormjs(path); }
    document.getElementById(kind === "forms" ? "form-preview-pane" : "scenario-pane").hidden = false;
    return openJson(path);
  }

  document.querySelectorAll("[data-file]").forEach(function (button) {
    button.addEventListener("click", function () { open(button.getAttribute("data-file")); });
  });

  // --- what the other files hold (for the panel's choices) ------------------------------------
  var xmlCache = {};
  function xmlOf(path) {
    if (!xmlCache[path]) { xmlCache[path] = fetchText(path).then(function (t) { return new DOMParser().parseFromString(t, "application/xml"); }); }
    return xmlCache[path];
  }
  var known = { decisions: [], processes: [] };
  function refreshKnown() {
    var dmn = config.files.filter(function (p) { return p.slice(-4) === ".dmn"; });
    var bpmn = config.files.filter(function (p) { return p.slice(-5) === ".bpmn"; });
    Promise.all(dmn.map(xmlOf)).then(function (docs) {
      known.decisions = [];
      docs.forEach(function (doc) {
        Array.prototype.forEach.call(doc.getElementsByTagNameNS("*", "decision"), function (d) { known.decisions.push(d.getAttribute("id")); });
      });
    });
    Promise.all(bpmn.map(xmlOf)).then(function (docs) {
      known.processes = [];
      docs.forEach(function (doc) {
        Array.prototype.forEach.call(doc.getElementsByTagNameNS("*", "process"), function (p) { known.processes.push(p.getAttribute("id")); });
      });
    });
  }
  function decisionIds() { return known.decisions.slice(); }
  function processIds() { return known.processes.slice(); }

  // --- markers: check findings and simulated paths -------------------------------------------
  function applyMarkers(path) {
    var entry = state.bpmn[path];
    if (entry && entry.modeler) {
      var canvas = entry.modeler.get("canvas");
      var registry = entry.modeler.get("elementRegistry");
      registry.getAll().forEach(function (e) {
        ["wp-finding", "wp-sim-done", "wp-sim-current"].forEach(function (m) { canvas.removeMarker(e.id, m); });
      });
      state.findings.forEach(function (f) {
        if (f.file === path && f.element && registry.get(f.element)) { canvas.addMarker(f.element, "wp-finding"); }
      });
      var sim = state.simulation;
      if (sim) {
        (sim.visited[path] || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "wp-sim-done"); } });
        (sim.current[path] || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "wp-sim-current"); } });
      }
    }
    var dmn = state.dmn[path];
    if (dmn && dmn.container) {
      dmn.container.querySelectorAll(".wp-finding").forEach(function (n) { n.classList.remove("wp-finding"); });
      state.findings.forEach(function (f) {
        if (f.file === path && f.element) {
          dmn.container.querySelectorAll("[data-element-id=\"" + escapeId(f.element) + "\"]").forEach(function (n) { n.classList.add("wp-finding"); });
        }
      });
    }
  }

  function showElement(path, element) {
    return open(path).then(function () {
      var entry = state.bpmn[path];
      if (!entry || !entry.modeler || !element) { return; }
      var target = entry.modeler.get("elementRegistry").get(element);
      if (target) {
        entry.modeler.get("selection").select(target);
        entry.modeler.get("canvas").scrollToElement(target);
      }
    });
  }

  // --- check ------------------------------------------------------------------------------------
  function runCheck() {
    say("Saving and checking…");
    document.getElementById("findings").removeAttribute("data-count");
    return saveAll().then(function (saved) {
      if (!saved) { throw new Error("some files could not be saved"); }
      return post(config.urls.check, "{}");
    }).then(function (r) { return r.json(); }).then(function (body) {
      state.findings = body.findings || [];
      renderFindings();
      Object.keys(state.bpmn).concat(Object.keys(state.dmn)).forEach(applyMarkers);
      var warnings = state.findings.filter(function (f) { return f.severity === "warning"; }).length;
      var passed = warnings ? "Check passed, with " + warnings + " warning(s) (a deploy goes ahead)." : "Check passed: no findings.";
      say(body.ok ? passed : "Check found " + (state.findings.length - warnings) + " problem(s).", body.ok ? "ok" : "error");
      return body.ok;
    }).catch(function (error) { say("Check failed: " + error.message, "error"); return false; });
  }

  function renderFindings() {
    var box = document.getElementById("findings");
    box.innerHTML = "";
    var heading = document.createElement("h3");
    heading.textContent = state.findings.length ? "Check: " + state.findings.length + " finding(s)" : "Check: no findings";
    box.appendChild(heading);
    box.setAttribute("data-count", String(state.findings.length));
    if (!state.findings.length) { return; }
    var list = document.createElement("ul");
    list.className = "finding-list";
    state.findings.forEach(function (f) {
      var item = document.createElement("li");
      item.setAttribute("data-element", f.element || "");
      var where = [f.file, f.line].filter(Boolean).join(":");
      var label = f.element ? " " + f.element + (f.name ? " (" + f.name + ")" : "") : "";
      if (f.file && state.kinds[f.file]) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = where + label;
        button.addEventListener("click", function () { showElement(f.file, f.element); });
        item.appendChild(button);
      } else {
        item.appendChild(document.createTextNode(where + label));
      }
      if (f.severity === "warning") { item.className = "finding-warning"; }
      item.appendChild(document.createTextNode(": " + (f.severity === "warning" ? "warning: " : "") + f.message));
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  // --- simulate ------------------------------------------------------------------------------
  function simulate(name) {
    say("Saving and simulating…");
    return saveAll().then(function () {
      return post(config.urls.simulate, JSON.stringify({ scenario: name || null }));
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); }).then(function (answer) {
      var box = document.getElementById("sim-results");
      box.innerHTML = "";
      if (!answer.ok) {
        state.findings = answer.body.findings || [];
        renderFindings();
        say("Cannot simulate: " + answer.body.error, "error");
        return;
      }
      var results = answer.body.results;
      results.forEach(function (result) { box.appendChild(renderResult(result, answer.body.main_file)); });
      var passed = results.filter(function (r) { return r.ok; }).length;
      say("Simulated " + results.length + " scenario(s): " + passed + " passed.", passed === results.length ? "ok" : "error");
      if (results.length === 1) { showPath(results[0], answer.body.main_file); }
    }).catch(function (error) { say("Simulation failed: " + error.message, "error"); });
  }

  function renderResult(result, mainFile) {
    var section = document.createElement("section");
    section.className = "sim-result " + (result.ok ? "pass" : "fail");
    section.setAttribute("data-scenario", result.scenario);
    var heading = document.createElement("h3");
    heading.textContent = (result.ok ? "PASS " : "FAIL ") + result.scenario;
    section.appendChild(heading);
    var facts = document.createElement("p");
    facts.className = "sim-outcome";
    facts.textContent = "Status: " + (result.status || "—") + (result.outcome ? " — " + result.outcome : "");
    section.appendChild(facts);
    [result.error].concat(result.failures || []).filter(Boolean).forEach(function (problem) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = problem;
      section.appendChild(p);
    });
    var show = document.createElement("button");
    show.type = "button";
    show.className = "small secondary show-path";
    show.textContent = "Show the path on the diagram";
    show.addEventListener("click", function () { showPath(result, mainFile); });
    section.appendChild(show);
    var path = document.createElement("ol");
    path.className = "sim-path";
    result.path.forEach(function (step) {
      var li = document.createElement("li");
      li.setAttribute("data-element", step.element);
      li.textContent = (step.name || step.element) + (step.state === "current" ? " (waiting)" : "");
      path.appendChild(li);
    });
    section.appendChild(path);
    var trail = document.createElement("ul");
    trail.className = "sim-trail";
    result.trail.forEach(function (e) {
      var li = document.createElement("li");
      var details = Object.keys(e.details || {}).filter(function (k) { return /decision$|comment$|outcome/.test(k); })
        .map(function (k) { return k + ": " + e.details[k]; }).join(", ");
      li.textContent = e.actor + " — " + e.action.replace(/_/g, " ") + (e.name ? " “" + e.name + "”" : "") + (details ? " (" + details + ")" : "");
      trail.appendChild(li);
    });
    section.appendChild(trail);
    var data = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = "Resulting data";
    var pre = document.createElement("pre");
    pre.className = "sim-data";
    pre.textContent = JSON.stringify(result.data, null, 2);
    data.appendChild(summary);
    data.appendChild(pre);
    section.appendChild(data);
    return section;
  }

  function showPath(result, mainFile) {
    state.simulation = result;
    var file = mainFile || config.draft.main_file;
    return open(file).then(function () { applyMarkers(file); });
  }

  // --- toolbar ----------------------------------------------------------------------------------
  document.getElementById("save-all").addEventListener("click", function () {
    saveAll().then(function (ok) { if (ok) { say("All files saved.", "ok"); } });
  });
  document.getElementById("run-check").addEventListener("click", function () { runCheck(); });
  document.getElementById("run-simulate").addEventListener("click", function () { simulate(null); });
  document.getElementById("show-diff").addEventListener("click", function (event) {
    event.preventDefault();
    var target = event.currentTarget.href;
    saveAll().then(function () { window.location.href = target; });
  });
  var deployForm = document.getElementById("deploy-form");
  deployForm.addEventListener("submit", function (event) {
    if (deployForm.getAttribute("data-checked") === "true") { return; }
    event.preventDefault();
    runCheck().then(function (ok) {
      if (!ok) { say("Not deployed: fix the findings first.", "error"); return; }
      deployForm.setAttribute("data-checked", "true");
      deployForm.submit();
    });
  });
  window.addEventListener("beforeunload", function (event) {
    if (Object.keys(state.dirty).some(function (p) { return state.dirty[p]; }) && deployForm.getAttribute("data-checked") !== "true") {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  refreshKnown();
  var wanted = new URLSearchParams(window.location.search).get("file");
  open(wanted && state.kinds[wanted] ? wanted : config.draft.main_file).then(function () { root.setAttribute("data-ready", "true"); });
  window.WaypointDesigner = { open: open, saveAll: saveAll, check: runCheck, simulate: simulate, state: state };
})();
