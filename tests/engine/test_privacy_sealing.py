"""Sealing on the action path (issue 21): a stored state is unsealed as text, and saving it again
gives an unchanged personal value its ciphertext back without encrypting it again. Privacy holds:
new and changed values are sealed afresh and read back, nothing personal is stored in clear, a
rotated key leaves no value under the old one, and text that only looks sealed stays as it is."""

from __future__ import annotations

import json
import re
import tracemalloc

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from engine import Database, Engine
from engine.models import ProcessInstance, TaskRecord
from engine.privacy.vault import Classification, Keyring, Vault, classify, seal, unseal
from engine.serialization import load
from tests.conftest import ROOT, make_engine
from tests.engine.test_privacy import SECRETS, VISIT

TOKEN = re.compile(r"enc:v1:[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+")
SCHEMA = {"properties": {"passport_number": {"type": "string"}, "name": {"type": "string", "x-personal": True}}}
COMMENT = "Name match C4X9T4821 in the 2019 watch list"
ASKED = "The passport page of C4X9T4821"


class CountingCipher:
    """A keyring's cipher that counts its encryptions."""

    def __init__(self, cipher: AESGCMSIV):
        self.cipher, self.encryptions = cipher, 0

    def encrypt(self, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
        self.encryptions += 1
        return self.cipher.encrypt(nonce, plain, aad)

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        return self.cipher.decrypt(nonce, sealed, aad)


def counting(vault: Vault) -> CountingCipher:
    ring = vault.keyring
    spy = CountingCipher(ring.cipher(ring.current))
    ring._ciphers[ring.current] = spy  # type: ignore[assignment]
    return spy


def test_an_unchanged_value_keeps_its_ciphertext_without_encrypting_again():
    vault, personal = Vault(Keyring.new_key("k1")), classify([SCHEMA])
    stored = json.dumps(seal({"tasks": [{"data": {"passport_number": "P1", "name": "Anna"}}]}, personal, vault.keyring))
    spy = counting(vault)
    clear = json.loads(vault.unseal_state(stored))
    assert clear == {"tasks": [{"data": {"passport_number": "P1", "name": "Anna"}}]}
    clear["tasks"].append({"data": {"passport_number": "P2", "name": "Anna"}})  # a new value, an equal one
    resealed = vault.seal(clear, personal)
    assert resealed["tasks"][0] == json.loads(stored)["tasks"][0]  # the same ciphertexts
    assert resealed["tasks"][1]["data"]["name"] == resealed["tasks"][0]["data"]["name"]
    assert spy.encryptions == 1  # only P2
    assert "P2" not in json.dumps(resealed) and unseal(resealed, personal, vault.keyring) == clear
    assert resealed == seal(clear, personal, vault.keyring)  # what encrypting everything again gives


def test_a_changed_value_is_sealed_afresh_and_reads_back():
    vault, personal = Vault(Keyring.new_key("k1")), classify([SCHEMA])
    stored = json.dumps(seal({"data": {"passport_number": "P1"}}, personal, vault.keyring))
    clear = json.loads(vault.unseal_state(stored))
    clear["data"]["passport_number"] = "P9"
    resealed = vault.seal(clear, personal)
    assert resealed != json.loads(stored) and "P9" not in json.dumps(resealed)
    assert json.loads(vault.unseal_state(json.dumps(resealed))) == {"data": {"passport_number": "P9"}}


def test_after_a_key_rotation_no_value_stays_under_the_old_key():
    old = Keyring.new_key("k1")
    personal = classify([SCHEMA])
    stored = json.dumps(seal({"data": {"passport_number": "P1", "name": "Anna"}}, personal, Keyring.parse(old)))
    rotated = Vault(f"{Keyring.new_key('k2')},{old}")
    resealed = json.dumps(rotated.seal(json.loads(rotated.unseal_state(stored)), personal))
    assert ":k1:" not in resealed and resealed.count("enc:v1:k2:") == 2
    assert not set(TOKEN.findall(stored)) & set(TOKEN.findall(resealed))


def test_text_that_only_looks_sealed_is_left_as_it_is():
    ring = Keyring.parse(Keyring.new_key("k1"))
    token = ring.encrypt({"number": "P1", "dates": ["2001-02-03"]})
    tree = {
        "quoted": f'he wrote "{token}"',  # inside a longer string, quotes escaped
        "after_quote": f'x"{token}',
        token: "a key that looks sealed",
        "list": [token, {"deep": token}],
    }
    opened = unseal(tree, Classification(), ring)
    assert opened == {**tree, "list": [{"number": "P1", "dates": ["2001-02-03"]}, {"deep": opened["list"][0]}]}
    assert unseal(token, Classification(), ring) == {"number": "P1", "dates": ["2001-02-03"]}  # a bare value


@pytest.fixture
def visit(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [ROOT / "bpmn"])
        iid = engine.start(s, "delegation_visit", VISIT, "lokafor").id
    return people, iid


def screen(db: Database, engine: Engine, comment: str) -> None:
    """Security completes the first member's screening with `comment` (a personal field)."""
    with db.transaction() as s:
        row = s.query(TaskRecord).filter_by(element_id="UserTask_screen_member", status="ready").one()
        answer = {"screening_result": "needs_information", "screening_comment": comment, "information_requested": ASKED}
        engine.complete(s, row.id, "sroy", answer)


def stored(db: Database, iid: int) -> tuple[str, str]:
    with db.reading() as s:
        instance = s.get_one(ProcessInstance, iid)
        return instance.state, json.dumps(instance.data)


def test_an_action_keeps_unchanged_ciphertexts_and_seals_what_it_adds(visit, engine):
    db, iid = visit
    state_before, _ = stored(db, iid)
    screen(db, engine, COMMENT)
    state, data = stored(db, iid)
    for secret in (*SECRETS, "Anna Weber", COMMENT, ASKED):
        assert secret not in state and secret not in data
    assert set(TOKEN.findall(state_before)) < set(TOKEN.findall(state))  # kept, and new ones
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)
        workflow = load(state, engine.definition_for(s, instance), engine.script_engine, engine.vault)
        comments = [t.data.get("screening_comment") for t in workflow.get_tasks()]
        assert COMMENT in comments
        assert engine.clear_data(instance)["members"][0]["passport_number"] == "C4X9T4821"


def test_no_value_read_stays_in_memory_after_the_action(visit, engine):
    """The memo of ciphertexts holds personal values in clear: a save drops it once sealed."""
    db, _ = visit
    screen(db, engine, COMMENT)
    assert getattr(engine.vault._local, "memo", None) is None


def test_an_action_under_a_new_key_reseals_the_whole_state(visit, engine, clock):
    db, iid = visit
    rotated = make_engine(clock=clock, data_key=f"{Keyring.new_key('k2')},{engine.vault._key_text}")
    with db.reading() as s:
        instance = s.get(ProcessInstance, iid)  # the vault remembers the old key's ciphertexts
        rotated.load_workflow(instance, rotated.definition_for(s, instance))
    screen(db, rotated, COMMENT)
    state, data = stored(db, iid)
    assert "enc:v1:test:" not in state and "enc:v1:k2:" in state
    assert "enc:v1:test:" not in data and "enc:v1:k2:" in data
    for secret in (*SECRETS, "Anna Weber", COMMENT, ASKED):
        assert secret not in state and secret not in data


def test_sealing_state_after_state_keeps_nothing_per_task():
    """A worker seals the states of request after request: what the classification remembers does
    not grow with the task ids it has met (it kept one entry per id, without end), and what it
    seals under them is unchanged: names anywhere, a container's own keys, derived values at the
    top of task data only."""
    personal = Classification(frozenset({"passport_number"}), frozenset({("members", "name")}), top=frozenset({"age"}))
    keyring = Keyring.parse(Keyring.new_key())

    def state(n: int) -> dict:
        data = {"passport_number": "C4X9T4821", "members": [{"name": "Ann", "ref": "M1"}], "age": 41}
        return {"tasks": {f"0000-{n}-{j}": {"data": data, "internal_data": {"age": 1}} for j in range(3)}}

    sealed = seal(state(0), personal, keyring)
    task = sealed["tasks"]["0000-0-0"]
    assert is_sealed(task["data"]["passport_number"]) and is_sealed(task["data"]["age"])
    assert is_sealed(task["data"]["members"][0]["name"]) and task["data"]["members"][0]["ref"] == "M1"
    assert task["internal_data"]["age"] == 1  # a derived name below the top of task data is no personal field
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(1, 2001):
            seal(state(n), personal, keyring)
        grown = tracemalloc.take_snapshot().compare_to(before, "filename")
    finally:
        tracemalloc.stop()
    kept = sum(stat.size_diff for stat in grown if stat.traceback[0].filename.endswith("vault.py"))
    assert kept < 50_000, f"{kept} bytes kept by the vault after 2,000 states"


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and TOKEN.fullmatch(value) is not None
