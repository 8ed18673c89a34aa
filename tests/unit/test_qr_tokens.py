"""QR token rules: pure functions, no app, no database."""

import base64
import datetime as dt

import pytest

from qr import tokens

NOW = dt.datetime(2026, 11, 11, 9, 30, tzinfo=dt.timezone.utc)
KEYS = tokens.parse_keyring("7:first-secret-key-abcdef,3:older-secret-key-123456")
CLAIMS = tokens.QrClaims(task_id=123456789, store_id=42, expires_at=NOW + dt.timedelta(days=3),
                         nonce=987654321)


def test_sign_verify_round_trip_and_compactness():
    token = tokens.sign(CLAIMS, KEYS)
    assert token.startswith("ZD1:") and len(token) == 57
    assert set(token) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")  # QR alphanumeric
    claims = tokens.verify(token, KEYS, NOW)
    assert (claims.task_id, claims.store_id, claims.nonce) == (123456789, 42, 987654321)
    assert claims.expires_at == CLAIMS.expires_at.replace(second=0)
    assert tokens.verify(" " + token.lower() + "\n", KEYS, NOW) == claims  # scanners vary in case


def test_nothing_secret_is_readable():
    raw = base64.b32decode(tokens.sign(CLAIMS, KEYS)[4:] + "===")
    assert b"first-secret" not in raw and b"older-secret" not in raw


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),          # flipped MAC character
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # flipped body character
    lambda t: t[:40],                                            # truncated
    lambda t: t + "AAAA",                                        # extended
    lambda t: "ZD1:" + "!" * 53,                                 # not base32
    lambda t: "https://evil.example/ZD1",                        # not ours
    lambda t: "",                                                # empty
])
def test_tampered_tokens_are_invalid(mangle):
    with pytest.raises(tokens.InvalidQr) as caught:
        tokens.verify(mangle(tokens.sign(CLAIMS, KEYS)), KEYS, NOW)
    assert caught.value.status_code == 400 and caught.value.error == "invalid_qr"


def test_forged_with_another_key_is_invalid():
    forged = tokens.sign(CLAIMS, tokens.parse_keyring("7:attacker-key-0123456789"))
    with pytest.raises(tokens.InvalidQr):
        tokens.verify(forged, KEYS, NOW)


def test_expired_is_410():
    token = tokens.sign(CLAIMS, KEYS)
    with pytest.raises(tokens.QrExpired) as caught:
        tokens.verify(token, KEYS, CLAIMS.expires_at + dt.timedelta(minutes=1))
    assert caught.value.status_code == 410 and caught.value.error == "qr_expired"


def test_key_rotation_old_keys_verify_until_retired():
    old = tokens.sign(CLAIMS, tokens.parse_keyring("3:older-secret-key-123456"))
    assert tokens.verify(old, KEYS, NOW).task_id == CLAIMS.task_id   # 3 still listed
    retired = tokens.parse_keyring("7:first-secret-key-abcdef")
    with pytest.raises(tokens.InvalidQr):
        tokens.verify(old, retired, NOW)
    new = tokens.sign(CLAIMS, KEYS)
    assert tokens.verify(new, retired, NOW).task_id == CLAIMS.task_id  # signed by active 7


@pytest.mark.parametrize("spec", ["", "x:abcdefghijklmnopq", "300:abcdefghijklmnopq", "1:short",
                                  "1abcdefghijklmnopqr"])
def test_bad_keyring_specs(spec):
    with pytest.raises(ValueError):
        tokens.parse_keyring(spec)


# ---- short codes ----------------------------------------------------------------------------

def test_short_code_round_trip_forgives_typing():
    code = tokens.short_code(123456, 987654321, KEYS)
    assert len(code.replace("-", "")) <= 10 and set(code) <= set(tokens.CROCKFORD + "-")
    typed = " " + code.lower().replace("-", " ").replace("0", "o").replace("1", "l") + " "
    parsed = tokens.parse_short_code(typed)
    assert parsed.task_id == 123456
    assert parsed.matches(987654321, KEYS)


def test_short_code_follows_rotation_and_keys():
    code = tokens.parse_short_code(tokens.short_code(77, 5, KEYS))
    assert not code.matches(6, KEYS)  # the QR was rotated: the printed short code stops working
    older_only = tokens.parse_keyring("3:older-secret-key-123456")
    old_code = tokens.parse_short_code(tokens.short_code(77, 5, older_only))
    assert old_code.matches(5, KEYS)  # a retired-but-listed key still verifies
    assert not old_code.matches(5, tokens.parse_keyring("9:another-secret-key-xyz"))


@pytest.mark.parametrize("text", ["", "ABC", "ZD1:AAAA", "!!!!-!!!!", "0000-00000",
                                  "U" * 12, "1" * 30])
def test_unreadable_short_codes_are_invalid(text):
    with pytest.raises(tokens.InvalidQr):
        tokens.parse_short_code(text)


def test_a_mistyped_character_is_caught():
    code = tokens.short_code(4242, 1, KEYS)
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert not tokens.parse_short_code(flipped).matches(1, KEYS)
