"""Sealed client results (`fpjs_async.sealed`) and sealing them in tests (`seal_event`)."""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
import zlib
from typing import Any

import pytest
from _shared import V4_EXAMPLES, require
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fpjs_async import FingerprintError
from fpjs_async._converter import decode_body
from fpjs_async._errors import UnsealError
from fpjs_async.events import Event
from fpjs_async.sealed import MAX_UNSEALED_SIZE, SEALED_HEADER, DecryptionKey, unseal_event
from fpjs_async.testing._signing import deflate, seal_event, seal_plaintext

KEY = bytes(range(32))
OLD_KEY = bytes(range(100, 132))
OTHER_KEY = b"\xaa" * 32
EVENT_JSON = {"event_id": "1708102555327.NLOjmg", "timestamp": 1708102555327, "bot": "bad"}
TAG_MISMATCH = "the tag does not match (another key, or altered data)"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_forms(key: bytes) -> list[str]:
    """Every way a key could leak into a message."""
    return [
        key.hex(),
        b64(key),
        base64.urlsafe_b64encode(key).decode(),
        repr(key)[2:-1],
        str(list(key))[1:-1],
    ]


def assert_no_key_material(error: BaseException, *keys: bytes) -> None:
    texts = [str(error), repr(error), repr(error.args), str(getattr(error, "errors", ""))]
    for key in keys:
        for form in key_forms(key):
            for text in texts:
                assert form not in text


@pytest.fixture(scope="module")
def example_event() -> Event:
    """The schema's example event."""
    example = require(V4_EXAMPLES / "events" / "get_event_200.json")
    return decode_body(example.read_bytes(), Event)


def unseal_error(sealed_result: bytes | str, keys: list[Any]) -> UnsealError:
    with pytest.raises(UnsealError) as caught:
        unseal_event(sealed_result, keys)
    assert isinstance(caught.value, FingerprintError)
    assert_no_key_material(caught.value, *(key for key in keys if isinstance(key, bytes)))
    return caught.value


# --- round trips --------------------------------------------------------------------------


def test_a_sealed_event_unseals_to_the_same_event(example_event: Event) -> None:
    sealed = seal_event(example_event, KEY)
    assert sealed.startswith(SEALED_HEADER)
    assert unseal_event(sealed, [KEY]) == example_event


def test_the_format_is_header_nonce_and_gcm_of_raw_deflate() -> None:
    # Built by hand, as the format describes it, rather than by seal_event.
    nonce = bytes(12)
    plaintext = json.dumps(EVENT_JSON).encode()
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = compressor.compress(plaintext) + compressor.flush()
    sealed = b"\x9e\x85\xdc\xed" + nonce + AESGCM(KEY).encrypt(nonce, deflated, None)
    event = unseal_event(sealed, [KEY])
    assert (event.event_id, event.timestamp, event.bot) == (
        "1708102555327.NLOjmg",
        1708102555327,
        "bad",
    )
    # And seal_event writes that format.
    sealed = seal_event(EVENT_JSON, KEY)
    deflated = AESGCM(KEY).decrypt(sealed[4:16], sealed[16:], None)
    assert json.loads(zlib.decompress(deflated, -zlib.MAX_WBITS)) == EVENT_JSON


@pytest.mark.parametrize(
    "form",
    [
        lambda sealed: sealed,
        lambda sealed: b64(sealed),
        lambda sealed: b64(sealed).encode("ascii"),
        lambda sealed: base64.urlsafe_b64encode(sealed).decode().rstrip("="),
        lambda sealed: f"  {b64(sealed)}\n",
    ],
    ids=["bytes", "base64", "base64-bytes", "url-safe-unpadded", "whitespace"],
)
def test_the_sealed_result_is_read_from_bytes_or_base64(form: Any) -> None:
    event = unseal_event(form(seal_event(EVENT_JSON, KEY)), [KEY])
    assert event.event_id == EVENT_JSON["event_id"]


@pytest.mark.parametrize(
    "key",
    [KEY, b64(KEY), b64(KEY) + "\n", DecryptionKey(KEY), DecryptionKey(b64(KEY))],
    ids=["bytes", "base64", "base64-newline", "decryption-key", "decryption-key-base64"],
)
def test_a_key_is_bytes_base64_or_a_decryption_key(key: Any) -> None:
    assert unseal_event(seal_event(EVENT_JSON, key), [key]).event_id == EVENT_JSON["event_id"]
    assert unseal_event(seal_event(EVENT_JSON, KEY), [key]).event_id == EVENT_JSON["event_id"]


def test_two_seals_of_one_event_differ_by_their_nonce() -> None:
    first, second = seal_event(EVENT_JSON, KEY), seal_event(EVENT_JSON, KEY)
    assert first[4:16] != second[4:16]
    assert unseal_event(first, [KEY]) == unseal_event(second, [KEY])


# --- keys in order ------------------------------------------------------------------------


def test_keys_are_tried_in_order_for_rotation() -> None:
    sealed_old = seal_event(EVENT_JSON, OLD_KEY)
    sealed_new = seal_event(EVENT_JSON, KEY)
    for sealed in (sealed_old, sealed_new):
        assert unseal_event(sealed, [KEY, OLD_KEY]).event_id == EVENT_JSON["event_id"]
    # A content failure with the second key shows the order: the first was tried and
    # failed on its tag, the second opened it, the third was not tried.
    bad_content = seal_plaintext(deflate(b"not json"), OLD_KEY)
    error = unseal_error(bad_content, [KEY, OLD_KEY, OTHER_KEY])
    assert error.errors[0] == TAG_MISMATCH
    assert error.errors[1].startswith("the plaintext is not an event")
    assert len(error.errors) == 2


def test_a_wrong_key_says_what_each_key_gave() -> None:
    error = unseal_error(seal_event(EVENT_JSON, KEY), [OTHER_KEY, OLD_KEY])
    assert error.errors == (TAG_MISMATCH, TAG_MISMATCH)
    assert error.reason == "none of the 2 keys opens the sealed result"
    assert str(error) == f"{error.reason}; key 0: {TAG_MISMATCH}; key 1: {TAG_MISMATCH}"


# --- what is not a sealed event -----------------------------------------------------------


def sealed_tampered(position: int) -> bytes:
    sealed = bytearray(seal_event(EVENT_JSON, KEY))
    sealed[position] ^= 0x01
    return bytes(sealed)


@pytest.mark.parametrize(
    ("sealed_result", "reason"),
    [
        (b"\x9e\x85\xdc\xee" + bytes(60), "not a sealed result: it does not begin"),
        (b"\x00" * 64, "not a sealed result: it does not begin"),
        (b64(b"\x00" * 64), "not a sealed result: it does not begin"),
        (b"", "not a sealed result: it does not begin"),
        (SEALED_HEADER + bytes(27), "the sealed result is truncated: 31 bytes, at least 32"),
        ("not base64 at all!", "the sealed result is not base64 text"),
        ("é" + b64(SEALED_HEADER + bytes(40)), "the sealed result is not base64 text"),
        (b"\xff" + b64(SEALED_HEADER).encode(), "not a sealed result: it does not begin"),
    ],
    ids=["header", "zeros", "zeros-base64", "empty", "short", "not-base64", "non-ascii", "bytes"],
)
def test_what_is_no_sealed_result_is_refused_before_any_key(
    sealed_result: bytes | str, reason: str
) -> None:
    error = unseal_error(sealed_result, [KEY])
    assert error.reason.startswith(reason)
    assert error.errors == ()


@pytest.mark.parametrize(
    "sealed_result",
    [
        seal_event(EVENT_JSON, KEY)[:-1],
        seal_event(EVENT_JSON, KEY)[:32],
        seal_event(EVENT_JSON, KEY) + b"\x00",
        sealed_tampered(-1),
        sealed_tampered(5),
        sealed_tampered(20),
    ],
    ids=["truncated", "truncated-to-tag", "appended", "tag", "nonce", "ciphertext"],
)
def test_altered_or_truncated_data_fails_the_tag(sealed_result: bytes) -> None:
    error = unseal_error(sealed_result, [KEY, OLD_KEY])
    assert error.errors == (TAG_MISMATCH, TAG_MISMATCH)


@pytest.mark.parametrize(
    ("plaintext", "detail"),
    [
        (deflate(b"not json"), "the plaintext is not an event (invalid JSON"),
        (deflate(b"[]"), "the plaintext is not an event"),
        (deflate(b'{"timestamp": 1}'), "the plaintext is not an event"),
        (b"\xff\xfe not deflate", "the plaintext is not raw DEFLATE data"),
        (json.dumps(EVENT_JSON).encode(), "the plaintext is not raw DEFLATE data"),
        (zlib.compress(json.dumps(EVENT_JSON).encode()), "the plaintext is not raw DEFLATE data"),
        (
            deflate(json.dumps(EVENT_JSON).encode())[:-3],
            "the plaintext's DEFLATE stream is truncated",
        ),
        (b"", "the plaintext's DEFLATE stream is truncated"),
    ],
    ids=[
        "not-json",
        "array",
        "no-event-id",
        "not-deflate",
        "not-compressed",
        "zlib-header",
        "truncated-deflate",
        "empty",
    ],
)
def test_a_plaintext_that_is_no_event_is_an_unseal_error(plaintext: bytes, detail: str) -> None:
    error = unseal_error(seal_plaintext(plaintext, KEY), [KEY, OTHER_KEY])
    assert error.reason == "the sealed result opened but holds no event"
    assert len(error.errors) == 1
    assert error.errors[0].startswith(detail)
    assert error.__cause__ is not None


def test_a_deflate_bomb_is_refused_at_the_size_cap() -> None:
    bomb = deflate(b" " * (MAX_UNSEALED_SIZE + 1))
    assert len(bomb) < MAX_UNSEALED_SIZE // 100
    error = unseal_error(seal_plaintext(bomb, KEY), [KEY])
    assert error.errors == (f"the plaintext inflates past {MAX_UNSEALED_SIZE} bytes",)


def test_the_size_cap_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    plaintext = json.dumps(EVENT_JSON).encode()
    sealed = seal_plaintext(deflate(plaintext), KEY)
    monkeypatch.setattr("fpjs_async.sealed.MAX_UNSEALED_SIZE", len(plaintext))
    assert unseal_event(sealed, [KEY]).event_id == EVENT_JSON["event_id"]
    monkeypatch.setattr("fpjs_async.sealed.MAX_UNSEALED_SIZE", len(plaintext) - 1)
    error = unseal_error(sealed, [KEY])
    assert error.errors == (f"the plaintext inflates past {len(plaintext) - 1} bytes",)


def test_an_unseal_error_pickles_with_its_detail() -> None:
    error = unseal_error(seal_event(EVENT_JSON, KEY), [OTHER_KEY])
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.reason, again.errors, str(again)) == (
        UnsealError,
        error.reason,
        error.errors,
        str(error),
    )


# --- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "error", "message"),
    [
        (KEY, TypeError, "keys must be a sequence of keys, got bytes"),
        (b64(KEY), TypeError, "keys must be a sequence of keys, got str"),
        (DecryptionKey(KEY), TypeError, "keys must be a sequence of keys, got DecryptionKey"),
        ({KEY}, TypeError, "keys must be a sequence of keys, got set"),
        ([], ValueError, "keys must hold at least one key"),
        ([KEY, 17], TypeError, "keys[1] must be bytes or base64 str, got int"),
        ([bytearray(KEY)], TypeError, "keys[0] must be bytes or base64 str, got bytearray"),
        ([KEY[:16]], ValueError, "keys[0] must be 32 bytes (an AES-256 key), got 16"),
        ([KEY + b"\x00"], ValueError, "keys[0] must be 32 bytes (an AES-256 key), got 33"),
        ([KEY, b64(KEY[:24])], ValueError, "keys[1] must be 32 bytes (an AES-256 key), got 24"),
        ([b64(KEY)[:-2] + "!!"], ValueError, "keys[0] is not base64 text"),
        (["clé " + b64(KEY)], ValueError, "keys[0] is not base64 text"),
    ],
)
def test_bad_keys_are_refused_by_name(keys: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        unseal_event(seal_event(EVENT_JSON, KEY), keys)
    assert str(caught.value) == message
    assert_no_key_material(caught.value, KEY, KEY[:16], KEY[:24])


def test_a_sealed_result_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(
        TypeError, match=r"^sealed_result must be bytes or base64 str, got bytearray"
    ):
        unseal_event(bytearray(seal_event(EVENT_JSON, KEY)), [KEY])  # type: ignore[arg-type]


def test_decryption_key_hides_its_key_and_knows_one_algorithm() -> None:
    key = DecryptionKey(b64(KEY))
    assert key.key == KEY
    assert key.algorithm == "aes-256-gcm"
    assert repr(key) == "DecryptionKey(algorithm='aes-256-gcm')"
    with pytest.raises(ValueError, match=r"^algorithm must be 'aes-256-gcm', got 'aes-128-gcm'"):
        DecryptionKey(KEY, algorithm="aes-128-gcm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^key must be 32 bytes \(an AES-256 key\), got 3$"):
        DecryptionKey(b"abc")
    with pytest.raises(TypeError, match=r"^key must be bytes or base64 str, got NoneType"):
        DecryptionKey(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((EVENT_JSON, KEY[:31]), ValueError, "^key must be 32 bytes"),
        ((EVENT_JSON, 7), TypeError, "^key must be bytes or base64 str"),
        ((["not", "a", "mapping"], KEY), TypeError, "^event must be an Event or a mapping"),
    ],
)
def test_seal_event_checks_its_arguments(
    arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        seal_event(*arguments)


# --- without the sealed extra -------------------------------------------------------------

CRYPTOGRAPHY_MODULES = (
    "cryptography",
    "cryptography.exceptions",
    "cryptography.hazmat.primitives.ciphers.aead",
)


def test_without_cryptography_unsealing_asks_for_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sealed = seal_event(EVENT_JSON, KEY)
    for name in CRYPTOGRAPHY_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: import fails
    for call in (lambda: unseal_event(sealed, [KEY]), lambda: seal_event(EVENT_JSON, KEY)):
        with pytest.raises(ImportError, match=r"pip install 'fpjs-async\[sealed\]'") as caught:
            call()
        assert isinstance(caught.value.__cause__, ImportError)


def test_importing_the_package_does_not_need_cryptography() -> None:
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = None\n"
        "import fpjs_async, fpjs_async.sealed, fpjs_async.webhooks, fpjs_async.testing\n"
        "from fpjs_async.testing._signing import sign_webhook\n"
        "print(sign_webhook(b'data', 'secret'))\n"
    )
    outcome = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.startswith("v1=1b2c16b75bd2")
