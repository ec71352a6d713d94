/* Waypoint process designer: a side panel for what Waypoint reads from a BPMN element.
 *
 * Reads and writes the selected element's settings through bpmn-js's moddle, with the
 * `spiffworkflow` descriptor (spiffworkflow.json): lanes (as roles), user task form and
 * durations, assignee, pre/post scripts, script text, conditions and default flows, timer
 * expressions, messages (name, variable, payload, correlation), called processes and
 * decisions. Every change goes through `modeling` commands, so undo/redo work and the
 * designer sees the diagram as changed. No bundler: plain browser JavaScript.
 */
(function () {
  "use strict";

  var PROP = "spiffworkflow:Properties";
  var USER_TASK_PROPS = [
    ["formJsonSchemaFilename", "Form", "The form of the task (forms/...)."],
    ["dueIn", "Due in", "ISO 8601 duration from creation to due time, e.g. P3D, PT4H (default P5D)."],
    ["reminderEvery", "Reminder every", "ISO 8601 duration between reminders once due (default P1D)."],
    ["escalateAfter", "Escalate after", "ISO 8601 duration after creation when the task escalates."],
    ["escalateTo", "Escalate to role", "A role whose queue receives the task on escalation."],
    ["assignee", "Assignee", "requester, manager or ${field}; empty: the lane's queue."],
    ["approval", "Approval", "true: the requester may not take this step; false: they may; empty: true when its form has a decision."],
    ["subject", "Subject", "A variable telling parallel tasks apart, e.g. member.ref (never a personal field)."],
    ["name_fr", "French name", "Nom de l'étape en français."]
  ];
  var START_PROPS = [
    ["formJsonSchemaFilename", "Start form", "The form a person fills in to start the process."],
    ["starters", "Who may start", "Space-separated roles (default: the role of the start event's lane)."],
    ["name_fr", "French name", ""]
  ];

  function roleFor(lane) {
    return (lane || "").trim().toLowerCase().replace(/-/g, " ").split(/\s+/).filter(Boolean).join("_");
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function extensions(target, type) {
    var ext = target && target.extensionElements;
    return ((ext && ext.values) || []).filter(function (v) { return v.$instanceOf && v.$instanceOf(type); });
  }

  function Panel(modeler, container, context) {
    this.modeler = modeler;
    this.container = container;
    this.context = context;
    this.moddle = modeler.get("moddle");
    this.modeling = modeler.get("modeling");
    this.registry = modeler.get("elementRegistry");
    this.element = null;
  }

  // --- writing through modeling commands ---------------------------------------------------
  Panel.prototype.update = function (target, props) {
    this.modeling.updateModdleProperties(this.element, target, props);
  };

  Panel.prototype.ensureExtensions = function (target) {
    if (!target.extensionElements) {
      var created = this.moddle.create("bpmn:ExtensionElements", { values: [] });
      created.$parent = target;
      this.update(target, { extensionElements: created });
    }
    return target.extensionElements;
  };

  Panel.prototype.addExtension = function (target, child) {
    var ext = this.ensureExtensions(target);
    child.$parent = ext;
    this.update(ext, { values: (ext.get("values") || []).concat([child]) });
  };

  Panel.prototype.removeExtension = function (target, child) {
    var ext = target.extensionElements;
    this.update(ext, { values: ext.get("values").filter(function (v) { return v !== child; }) });
  };

  Panel.prototype.getProperty = function (target, name) {
    var holder = extensions(target, PROP)[0];
    var found = holder && (holder.properties || []).filter(function (p) { return p.name === name; })[0];
    return found ? found.value || "" : "";
  };

  Panel.prototype.setProperty = function (target, name, value) {
    var holder = extensions(target, PROP)[0];
    var found = holder && (holder.properties || []).filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (found) { this.update(holder, { properties: holder.get("properties").filter(function (p) { return p !== found; }) }); }
      return;
    }
    if (found) { this.update(found, { value: value }); return; }
    if (!holder) {
      holder = this.moddle.create(PROP, { properties: [] });
      this.addExtension(target, holder);
    }
    var created = this.moddle.create("spiffworkflow:Property", { name: name, value: value });
    created.$parent = holder;
    this.update(holder, { properties: (holder.get("properties") || []).concat([created]) });
  };

  Panel.prototype.getBody = function (target, type) {
    var found = extensions(target, type)[0];
    return found ? found.value || "" : "";
  };

  Panel.prototype.setBody = function (target, type, value) {
    var found = extensions(target, type)[0];
    if (!value) { if (found) { this.removeExtension(target, found); } return; }
    if (found) { this.update(found, { value: value }); return; }
    this.addExtension(target, this.moddle.create(type, { value: value }));
  };

  Panel.prototype.expression = function (text) {
    return text ? this.moddle.create("bpmn:FormalExpression", { body: text }) : undefined;
  };

  // --- reading the model -----------------------------------------------------------------
  Panel.prototype.laneOf = function (bo) {
    var lanes = this.registry.filter(function (e) { return e.type === "bpmn:Lane"; });
    for (var i = 0; i < lanes.length; i++) {
      if ((lanes[i].businessObject.flowNodeRef || []).indexOf(bo) >= 0) { return lanes[i].businessObject; }
    }
    var parent = bo.$parent;
    return parent && parent.$type === "bpmn:SubProcess" ? this.laneOf(parent) : null;
  };

  Panel.prototype.definitions = function () {
    return this.modeler.getDefinitions();
  };

  Panel.prototype.messages = function () {
    return (this.definitions().rootElements || []).filter(function (r) { return r.$type === "bpmn:Message"; });
  };

  Panel.prototype.correlationsFor = function (message) {
    var out = [];
    (this.definitions().rootElements || []).forEach(function (r) {
      if (r.$type !== "bpmn:CorrelationProperty") { return; }
      (r.correlationPropertyRetrievalExpression || []).forEach(function (expr) {
        if (expr.messageRef === message) { out.push({ property: r, expression: expr }); }
      });
    });
    return out;
  };

  // --- form building -----------------------------------------------------------------------
  Panel.prototype.field = function (id, label, value, help, apply, options) {
    options = options || {};
    var input;
    if (options.multiline) {
      input = el("textarea", { id: "prop-" + id, rows: options.rows || 4, spellcheck: "false" });
      input.value = value || "";
    } else if (options.choices) {
      input = el("select", { id: "prop-" + id });
      var values = options.choices.slice();
      if (value && values.indexOf(value) < 0) { values.unshift(value); }
      [""].concat(values).forEach(function (choice) {
        var option = el("option", { value: choice, text: choice || "—" });
        if (choice === (value || "")) { option.selected = true; }
        input.appendChild(option);
      });
    } else {
      input = el("input", { type: "text", id: "prop-" + id, list: options.list });
      input.value = value || "";
    }
    var self = this;
    var last = input.value;
    function commit() {
      if (input.value === last) { return; }
      last = input.value;
      try { apply(input.value.trim() === "" ? "" : input.value); }
      catch (error) { self.context.onError(String(error && error.message || error)); }
    }
    input.addEventListener("change", commit);
    if (!options.multiline) {
      input.addEventListener("keydown", function (event) { if (event.key === "Enter") { event.preventDefault(); commit(); } });
    }
    var wrap = el("div", { "class": "field" }, [el("label", { "for": "prop-" + id, text: label }), input]);
    if (help) {
      input.setAttribute("aria-describedby", "prop-" + id + "-help");
      wrap.appendChild(el("p", { "class": "help", id: "prop-" + id + "-help", text: help }));
    }
    return wrap;
  };

  Panel.prototype.group = function (title, children) {
    return el("fieldset", { "class": "prop-group" }, [el("legend", { text: title })].concat(children));
  };

  // --- the panel ------------------------------------------------------------------------------
  Panel.prototype.render = function (element) {
    var focused = document.activeElement && document.activeElement.id;
    this.element = element;
    var container = this.container;
    container.innerHTML = "";
    if (!element) { return; }
    var bo = element.businessObject;
    var self = this;
    var type = bo.$type.replace("bpmn:", "");
    container.appendChild(el("h2", { text: bo.name || bo.id }));
    container.appendChild(el("p", { "class": "meta", id: "prop-type", text: type + " · " + bo.id }));
    var general = [
      this.field("id", "Id", bo.id, "Requests waiting here move to a new version only if the id stays the same.", function (v) {
        if (v) { self.modeling.updateProperties(element, { id: v }); }
      })
    ];
    if (type !== "Process" && type !== "Collaboration") {
      general.push(this.field("name", "Name", bo.name, "", function (v) { self.modeling.updateProperties(element, { name: v || undefined }); }));
    }
    container.appendChild(this.group("General", general));

    if (type === "Lane") { container.appendChild(this.laneGroup(bo)); }
    if (bo.$instanceOf("bpmn:FlowNode")) {
      var lane = this.laneOf(bo);
      var role = lane ? roleFor(lane.name) : "";
      var known = role && this.context.roles.indexOf(role) >= 0;
      container.appendChild(el("p", { "class": "lane-info " + (lane && !known ? "error" : ""), id: "prop-lane",
        text: lane ? "Lane: " + lane.name + " → role " + role + (known ? "" : " (not a known role)") : "In no lane" }));
    }
    if (type === "UserTask") { container.appendChild(this.propertiesGroup("User task", bo, USER_TASK_PROPS)); }
    if (type === "StartEvent" && !(bo.eventDefinitions || []).length) {
      container.appendChild(this.propertiesGroup("Start", bo, START_PROPS));
    }
    if (type === "ScriptTask") {
      container.appendChild(this.group("Script", [this.field("script", "Python (restricted)", bo.script, "Task data as variables; only allowed builtins and registered helpers.", function (v) {
        self.update(bo, { script: v || undefined, scriptFormat: "python" });
      }, { multiline: true, rows: 8 })]));
    }
    if (bo.$instanceOf("bpmn:Activity") && type !== "SubProcess") { container.appendChild(this.scriptsGroup(bo)); }
    if (type === "BusinessRuleTask") {
      container.appendChild(this.group("Business rule", [this.field("calledDecisionId", "Decision (DMN)", this.getBody(bo, "spiffworkflow:CalledDecisionId"), "The id of a decision in the draft's DMN files.", function (v) {
        self.setBody(bo, "spiffworkflow:CalledDecisionId", v);
      }, { choices: this.context.decisions() })]));
    }
    if (type === "CallActivity") {
      container.appendChild(this.group("Call activity", [this.field("calledElement", "Called process", bo.calledElement, "The process id to run (its BPMN must be in the draft).", function (v) {
        self.update(bo, { calledElement: v || undefined });
      }, { choices: this.context.processes() })]));
    }
    if (type === "SequenceFlow") { container.appendChild(this.flowGroup(element, bo)); }
    (bo.eventDefinitions || []).forEach(function (def) {
      if (def.$type === "bpmn:TimerEventDefinition") { container.appendChild(self.timerGroup(def)); }
      if (def.$type === "bpmn:MessageEventDefinition") { container.appendChild(self.messageGroup(bo, def)); }
    });
    if (type === "ReceiveTask" || type === "SendTask") { container.appendChild(this.messageGroup(bo, bo)); }
    if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
  };

  Panel.prototype.laneGroup = function (bo) {
    var role = roleFor(bo.name);
    var known = this.context.roles.indexOf(role) >= 0;
    return this.group("Lane", [el("p", { id: "prop-role", "class": known ? "" : "error",
      text: "Role: " + (role || "(none)") + (known ? " — known" : " — not a known role: " + this.context.roles.join(", ")) }),
      el("p", { "class": "help", text: "Tasks belong to the lane whose area they sit in: drag them between lanes on the diagram." })]);
  };

  Panel.prototype.propertiesGroup = function (title, bo, known) {
    var self = this;
    var forms = this.context.forms();
    var fields = known.map(function (spec) {
      var name = spec[0];
      return self.field(name, spec[1], self.getProperty(bo, name), spec[2], function (v) { self.setProperty(bo, name, v); },
        name === "formJsonSchemaFilename" ? { choices: forms } : {});
    });
    var names = known.map(function (s) { return s[0]; });
    var holder = extensions(bo, PROP)[0];
    (holder ? holder.properties || [] : []).forEach(function (p) {
      if (names.indexOf(p.name) < 0) {
        fields.push(self.field("other-" + p.name, p.name, p.value, "", function (v) { self.setProperty(bo, p.name, v); }));
      }
    });
    fields.push(this.field("new-property", "Add a property (name=value)", "", "", function (v) {
      var at = v.indexOf("=");
      if (at > 0) { self.setProperty(bo, v.slice(0, at).trim(), v.slice(at + 1).trim()); }
    }));
    return this.group(title, fields);
  };

  Panel.prototype.scriptsGroup = function (bo) {
    var self = this;
    return this.group("Scripts around the step", [
      this.field("preScript", "Before (preScript)", this.getBody(bo, "spiffworkflow:PreScript"), "", function (v) { self.setBody(bo, "spiffworkflow:PreScript", v); }, { multiline: true, rows: 3 }),
      this.field("postScript", "After (postScript)", this.getBody(bo, "spiffworkflow:PostScript"), "", function (v) { self.setBody(bo, "spiffworkflow:PostScript", v); }, { multiline: true, rows: 3 })
    ]);
  };

  Panel.prototype.flowGroup = function (element, bo) {
    var self = this;
    var source = bo.sourceRef;
    var fields = [this.field("condition", "Condition (Python)", bo.conditionExpression ? bo.conditionExpression.body : "",
      "True when this flow is taken, e.g. supervisor_decision == \"approve\".", function (v) {
        self.modeling.updateProperties(element, { conditionExpression: self.expression(v) });
      }, { multiline: true, rows: 2 })];
    if (source && /Gateway$/.test(source.$type) && source.$type !== "bpmn:ParallelGateway") {
      var box = el("input", { type: "checkbox", id: "prop-default" });
      box.checked = source["default"] === bo;
      box.addEventListener("change", function () {
        var gateway = self.registry.get(source.id);
        self.modeling.updateProperties(gateway, { "default": box.checked ? bo : undefined });
      });
      fields.push(el("div", { "class": "field checkbox" }, [box, el("label", { "for": "prop-default", text: "Default flow of " + (source.name || source.id) })]));
    }
    return this.group("Sequence flow", fields);
  };

  Panel.prototype.timerGroup = function (def) {
    var self = this;
    var kinds = ["timeDuration", "timeDate", "timeCycle"];
    var kind = kinds.filter(function (k) { return def[k]; })[0] || "timeDuration";
    var value = def[kind] ? def[kind].body : "";
    function write(newKind, text) {
      var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      props[newKind] = self.expression(text);
      self.update(def, props);
    }
    return this.group("Timer", [
      this.field("timerType", "Kind", kind, "Duration (P5D), date (2026-12-01T09:00:00-05:00) or cycle (R3/PT1H).", function (v) {
        write(v || "timeDuration", value);
      }, { choices: kinds }),
      this.field("timer", "Expression", value, "An ISO 8601 literal, or Python that yields one, e.g. at_end_of_day(end_date).", function (v) {
        write(kind, v);
      })
    ]);
  };

  Panel.prototype.messageGroup = function (bo, def) {
    var self = this;
    var messages = this.messages();
    var current = def.messageRef;
    var names = messages.map(function (m) { return m.name; });
    var throwing = /Throw|End/.test(bo.$type) || bo.$type === "bpmn:SendTask";
    var fields = [this.field("message", "Message", current ? current.name : "",
      "Choose a message declared in this file, or type a new name below.", function (v) {
        var found = messages.filter(function (m) { return m.name === v; })[0];
        self.update(def, { messageRef: found || undefined });
      }, { choices: names }),
    this.field("newMessage", "New message name", "", "Declares a bpmn:message and uses it here.", function (v) {
      if (!v) { return; }
      var definitions = self.definitions();
      var created = self.moddle.create("bpmn:Message", { id: "Message_" + v.replace(/[^A-Za-z0-9_]/g, "_"), name: v });
      created.$parent = definitions;
      self.update(definitions, { rootElements: definitions.get("rootElements").concat([created]) });
      self.update(def, { messageRef: created });
    })];
    if (throwing) {
      fields.push(this.field("messagePayload", "Payload (Python)", this.getBody(def, "spiffworkflow:MessagePayload"), "", function (v) {
        self.setBody(def, "spiffworkflow:MessagePayload", v);
      }, { multiline: true, rows: 2 }));
    } else {
      fields.push(this.field("messageVariable", "Store the payload in", this.getBody(def, "spiffworkflow:MessageVariable"), "A data field name.", function (v) {
        self.setBody(def, "spiffworkflow:MessageVariable", v);
      }));
    }
    if (current) {
      this.correlationsFor(current).forEach(function (c, index) {
        var expr = c.expression;
        var path = expr.messagePath;
        fields.push(self.field("correlation-" + index, "Correlation key " + (c.property.name || c.property.id),
          path ? path.body : "", "Evaluated on the payload (and on the waiting request's data) to match messages.", function (v) {
            if (path) { self.update(path, { body: v }); } else { self.update(expr, { messagePath: self.expression(v) }); }
          }));
      });
      fields.push(this.field("newCorrelation", "Add a correlation key (field name)", "", "", function (v) {
        if (!v) { return; }
        var definitions = self.definitions();
        var expr = self.moddle.create("bpmn:CorrelationPropertyRetrievalExpression", { messageRef: current, messagePath: self.expression(v) });
        var property = self.moddle.create("bpmn:CorrelationProperty", { id: v.replace(/[^A-Za-z0-9_]/g, "_"), name: v, correlationPropertyRetrievalExpression: [expr] });
        expr.$parent = property;
        property.$parent = definitions;
        self.update(definitions, { rootElements: definitions.get("rootElements").concat([property]) });
      }));
    }
    return this.group("Message", fields);
  };

  window.WaypointProperties = { Panel: Panel, roleFor: roleFor };
})();
