"""Standard BPMN constructs SpiffWorkflow 3.2 refuses, rewritten into equivalent ones it runs.

Each rewrite works on the XML before the library parses it and keeps BPMN 2.0's meaning:

- data stores and data store references (and the data associations that use them) are artifacts
  with no execution meaning: dropped (the library asks for a registered implementation of each);
- an activity or event with several outgoing flows is an implicit split (BPMN 2.0 §10.5.1): a
  parallel gateway after it when no flow has a condition, else an inclusive gateway (each
  conditioned flow taken when its condition holds, an unconditioned one always, the default one
  when nothing else is);
- an unconditioned flow out of an inclusive gateway is always taken (§10.5.3): it gets the
  condition `True`, which the library's inclusive gateway needs;
- a sub-process without a start event starts every activity, event and gateway in it that has no
  incoming flow (§10.5.2): a start event is added, with a parallel gateway when there are several;
  one without an end event gets one after each node that has no outgoing flow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
ACTIVITIES = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction",
}  # fmt: skip
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
FLOW_NODES = GATEWAYS | ACTIVITIES | EVENTS
SCOPES = "//bpmn:process | //bpmn:subProcess | //bpmn:transaction"


def local(node: Any) -> str:
    tag = node.tag
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else ""


def rewrite(root: Any) -> list[str]:
    """Rewrite BPMN tree `root` in place; what was rewritten, one line each (empty: nothing)."""
    done = drop_data_stores(root)
    for scope in root.xpath(SCOPES, namespaces=NS):
        done += start_startless_subprocess(scope)
        done += split_implicitly(scope)
        done += always_take_unconditioned_inclusive(scope)
    return done


def drop_data_stores(root: Any) -> list[str]:
    stores = root.xpath("//bpmn:dataStore | //bpmn:dataStoreReference", namespaces=NS)
    ids = {s.get("id") for s in stores}
    associations = [
        a
        for a in root.xpath("//bpmn:dataInputAssociation | //bpmn:dataOutputAssociation", namespaces=NS)
        if ids & {(r.text or "").strip() for r in a.xpath("bpmn:sourceRef | bpmn:targetRef", namespaces=NS)}
    ]
    for node in [*associations, *stores]:
        node.getparent().remove(node)
    return [f"data store '{s.get('id')}' ignored" for s in stores]


def _flows(scope: Any) -> list[Any]:
    return scope.xpath("bpmn:sequenceFlow", namespaces=NS)


def _nodes(scope: Any) -> list[Any]:
    return [n for n in scope if local(n) in FLOW_NODES]


def _new(anchor: Any, kind: str, ident: str, *, before: bool = False, **attrib: str) -> Any:
    node = anchor.makeelement(f"{{{BPMN}}}{kind}", {"id": ident, **attrib})
    (anchor.addprevious if before else anchor.addnext)(node)
    return node


def _connect(scope: Any, after: Any, source: str, target: str, ident: str) -> Any:
    return _new(after, "sequenceFlow", ident, sourceRef=source, targetRef=target)


def _set_refs(node: Any, kind: str, flows: Iterable[str]) -> None:
    """Replace `node`'s `bpmn:incoming`/`bpmn:outgoing` children (kept in their schema place)."""
    old = node.xpath(f"bpmn:{kind}", namespaces=NS)
    if not old:
        return
    for flow in flows:
        ref = old[0].makeelement(f"{{{BPMN}}}{kind}", {})
        ref.text = flow
        old[0].addprevious(ref)
    for ref in old:
        node.remove(ref)


def _condition(flow: Any) -> Any:
    found = flow.xpath("bpmn:conditionExpression", namespaces=NS)
    return found[0] if found else None


def _always(flow: Any) -> None:
    condition = flow.makeelement(f"{{{BPMN}}}conditionExpression", {})
    condition.text = "True"
    flow.append(condition)


def split_implicitly(scope: Any) -> list[str]:
    done = []
    by_source: dict[str, list[Any]] = {}
    for flow in _flows(scope):
        by_source.setdefault(flow.get("sourceRef"), []).append(flow)
    for node in _nodes(scope):
        outgoing = by_source.get(node.get("id"), [])
        if local(node) in GATEWAYS or len(outgoing) < 2:
            continue
        ident, default = node.get("id"), node.attrib.pop("default", None)
        conditional = default is not None or any(_condition(f) is not None for f in outgoing)
        kind = "inclusiveGateway" if conditional else "parallelGateway"
        gateway = _new(node, kind, f"{ident}__split", **({"default": default} if default else {}))
        _connect(scope, gateway, ident, gateway.get("id"), f"{ident}__to_split")
        for flow in outgoing:
            flow.set("sourceRef", gateway.get("id"))
            if conditional and flow.get("id") != default and _condition(flow) is None:
                _always(flow)
        _set_refs(node, "outgoing", [f"{ident}__to_split"])
        done.append(f"'{ident}': implicit {'inclusive' if conditional else 'parallel'} split")
    return done


def always_take_unconditioned_inclusive(scope: Any) -> list[str]:
    done = []
    gateways = {g.get("id"): g.get("default") for g in scope.xpath("bpmn:inclusiveGateway", namespaces=NS)}
    for flow in _flows(scope):
        source = flow.get("sourceRef")
        if source in gateways and flow.get("id") != gateways[source] and _condition(flow) is None:
            _always(flow)
            done.append(f"'{flow.get('id')}': unconditioned inclusive flow always taken")
    return done


def start_startless_subprocess(scope: Any) -> list[str]:
    if local(scope) == "process" or scope.get("triggeredByEvent") == "true":
        return []
    nodes = [n for n in _nodes(scope) if local(n) != "boundaryEvent"]
    if not nodes or any(local(n) == "startEvent" for n in nodes):
        return []
    ident, flows = scope.get("id"), _flows(scope)
    targets = {f.get("targetRef") for f in flows}
    sources = {f.get("sourceRef") for f in flows}
    first = [n for n in nodes if n.get("id") not in targets]
    start = _new(nodes[0], "startEvent", f"{ident}__start", before=True)
    entry = start
    if len(first) > 1:
        entry = _new(start, "parallelGateway", f"{ident}__fork")
        _connect(scope, entry, start.get("id"), entry.get("id"), f"{ident}__to_fork")
    for n, node in enumerate(first):
        _connect(scope, entry, entry.get("id"), node.get("id"), f"{ident}__start_{n}")
    if not any(local(n) == "endEvent" for n in nodes):
        for node in [x for x in nodes if x.get("id") not in sources]:
            end = _new(node, "endEvent", f"{node.get('id')}__end")
            _connect(scope, end, node.get("id"), end.get("id"), f"{node.get('id')}__to_end")
    return [f"sub-process '{ident}': starts {', '.join(n.get('id') for n in first)}"]


def check_event_gateways(path: str, root: Any, finding: Callable[[str, Any, str], dict]) -> list[dict]:
    """Findings for event-based gateways followed by more than one timer: SpiffWorkflow keeps one due
    time per waiting gateway, so the second timer would fire at the first one's time."""
    out = []
    for gateway in root.xpath("//bpmn:eventBasedGateway", namespaces=NS):
        scope = gateway.getparent()
        targets = {f.get("targetRef") for f in _flows(scope) if f.get("sourceRef") == gateway.get("id")}
        timers = [
            n for n in _nodes(scope) if n.get("id") in targets and n.xpath("bpmn:timerEventDefinition", namespaces=NS)
        ]
        if len(timers) > 1:
            names = ", ".join(t.get("id") for t in timers)
            out.append(
                finding(path, gateway, f"an event-based gateway may wait for one timer, not {len(timers)} ({names})")
            )
    return out
