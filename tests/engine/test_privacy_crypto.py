"""Field classification, AES-GCM sealing with key ids, rotation, masking."""

from __future__ import annotations

import json

import pytest

from engine.privacy.vault import (
    SENSITIVE_EVERYWHERE,
    Classification,
    DataKeyError,
    Keyring,
    classify,
    is_encrypted,
    mask,
    seal,
    unseal,
)

SCHEMA = {
    "properties": {
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "passport_number": {"type": "string", "x-sensitive": True},
                    "date_of_birth": {"type": "string", "x-sensitive": True},
                },
            },
        },
        "current_passport": {
            "type": "object",
            "properties": {"number": {"type": "string", "x-sensitive": True}, "held": {"type": "boolean"}},
        },
    }
}
DATA = {
    "members": [{"name": "Anna", "passport_number": "P1234821", "date_of_birth": "1970-01-02"}],
    "member": {"name": "Anna", "passport_number": "P1234821"},  # a multi-instance copy, not in any form
    "current_passport": {"number": "AB998877", "held": True},
    "number": 7,  # a generic name elsewhere is not personal
}


def test_classification():
    c = classify([SCHEMA])
    assert c.names == {"passport_number", "date_of_birth"}
    assert c.qualified == {("current_passport", "number")}
    assert not Classification() and classify([]).names == SENSITIVE_EVERYWHERE  # in every process


def test_seal_unseal_round_trip_and_ciphertext_everywhere():
    keys = Keyring.parse(Keyring.new_key("k1"))
    c = classify([SCHEMA])
    sealed = seal(DATA, c, keys)
    text = json.dumps(sealed)
    for secret in ("P1234821", "1970-01-02", "AB998877"):
        assert secret not in text
    assert sealed["number"] == 7 and sealed["members"][0]["name"] == "Anna"
    assert is_encrypted(sealed["member"]["passport_number"])
    assert seal(sealed, c, keys) == sealed  # idempotent
    assert unseal(sealed, c, keys) == DATA


def test_rotation_and_wrong_keys():
    old = Keyring.new_key("k1")
    sealed = seal(DATA, classify([SCHEMA]), Keyring.parse(old))
    rotated = Keyring.parse(f"{Keyring.new_key('k2')},{old}")
    assert unseal(sealed, Classification(), rotated) == DATA
    resealed = seal(unseal(sealed, Classification(), rotated), classify([SCHEMA]), rotated)
    assert ":k2:" in resealed["members"][0]["passport_number"]
    with pytest.raises(DataKeyError, match="does not hold"):
        unseal(sealed, Classification(), Keyring.parse(Keyring.new_key("k9")))
    with pytest.raises(DataKeyError, match="does not decrypt"):
        unseal(sealed, Classification(), Keyring.parse(Keyring.new_key("k1")))


@pytest.mark.parametrize("bad", [None, "", "nokid", "k1:not-base64!", "k1:" + "QUJD", "bad kid:QUJD"])
def test_malformed_keys_are_clear_errors(bad):
    with pytest.raises(DataKeyError):
        Keyring.parse(bad)


def test_masking():
    masked = mask(DATA, classify([SCHEMA]))
    assert masked["members"][0]["passport_number"] == "••••"  # a mask reveals nothing, not even the end
    assert masked["current_passport"]["number"] == "••••"
    assert masked["members"][0]["date_of_birth"] == "••••"  # "•••• 1-02" once gave away the day of birth
    assert masked["members"][0]["name"] == "Anna"
