"""Workflow state to JSON and back, without the process spec.

SpiffWorkflow embeds the whole spec in every serialized workflow; Waypoint stores the spec
once per deployed version instead. `dump` leaves `spec`/`subprocess_specs` out and `load`
rebuilds the workflow around the cached spec objects. One serializer per thread: the
library's serializer flips a global flag while encoding and is not thread-safe.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from engine.definitions import ParsedDefinition
from engine.errors import ScriptError
from engine.privacy.vault import PREFIX as ENCRYPTED
from engine.privacy.vault import Classification, DataKeyError, Vault

__all__ = ["SERIALIZER_VERSION", "dump", "load"]


class SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a top-level workflow without its specs; restores it around given specs."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict, parsed: ParsedDefinition) -> BpmnWorkflow:
        workflow = self.target_class(parsed.spec, parsed.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_local = threading.local()


def _serializer() -> tuple[BpmnWorkflowSerializer, SpecFreeWorkflowConverter]:
    pair = getattr(_local, "pair", None)
    if pair is None:
        registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
        converter = SpecFreeWorkflowConverter(BpmnWorkflow, registry)  # replaces the default
        pair = _local.pair = (BpmnWorkflowSerializer(registry), converter)
    return pair


def dump(workflow: BpmnWorkflow, personal: Classification | None = None, vault: Vault | None = None) -> str:
    """The workflow's state as compact JSON (without spec), tagged with the serializer version;
    personal fields (`personal`) encrypted with `vault` wherever they occur.

    Not key-sorted: SpiffWorkflow restores tasks in document order and needs each parent
    before its children (their data is stored as deltas against the parent).
    """
    serializer = _serializer()[0]
    if personal and vault is None:
        raise DataKeyError("data_key_needed_to_store")
    try:
        if not personal or vault is None:
            return serializer.serialize_json(workflow)
        serializer.registry._encoder_mode = True  # as serialize_json does: the encoder converts values
        try:
            dct = serializer.to_dict(workflow)
            dct[serializer.VERSION_KEY] = serializer.VERSION
            return json.dumps(vault.seal(dct, personal), cls=serializer._encoder_cls)
        finally:
            serializer.registry._encoder_mode = False
    except (TypeError, ValueError) as exc:  # a script left a map(), a generator...: the script's fault
        raise ScriptError("script_result_not_json", detail=str(exc)[:200]) from exc


def load(state: str, parsed: ParsedDefinition, script_engine: Any, vault: Vault | None = None) -> BpmnWorkflow:
    """Rebuild a workflow from `dump` output around the cached specs of its version (decrypting
    personal fields with `vault`, which remembers their ciphertexts for the next `dump`)."""
    serializer, converter = _serializer()
    if ENCRYPTED in state:
        if vault is None:
            raise DataKeyError("data_key_needed_to_read")
        state = vault.unseal_state(state)
    dct = json.loads(state)
    if dct.get(serializer.VERSION_KEY) != SERIALIZER_VERSION:
        # Library migrations expect the spec inside the document: put it back for them.
        dct["spec"] = serializer.registry.convert(parsed.spec)
        dct["subprocess_specs"] = {k: serializer.registry.convert(v) for k, v in parsed.subprocess_specs.items()}
        serializer.migrate(dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
    else:
        dct.pop(serializer.VERSION_KEY)
    workflow = converter.restore(dct, parsed)
    workflow.script_engine = script_engine
    return workflow
