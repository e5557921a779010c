"""Certificates of class 64 (generate_key_pair, generate_certificate_request, import, export,
remove, attribute 6) kept by a sans-IO store.

Naming rule: subject CN = the system title in upper-case hex (Green Book 9.2.6 certificate
profile; gurux's systemTitleToSubject applies the same). Key usage per type: digitalSignature,
keyAgreement, both for TLS (Green Book certificate profile; gurux's certificate search uses the
same mapping). The certificates here are issued in the test by a throw-away CA built with
``cryptography``.
"""

from __future__ import annotations

import contextlib
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from tests.security.vectors import CLIENT_SYSTEM_TITLE, SERVER_SYSTEM_TITLE

from metertwin.security.certificates import (
    CertificateEntity,
    CertificateStore,
    CertificateType,
)
from metertwin.security.errors import CertificateError, SecurityError

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metertwin test CA")])


def _usage(signs: bool, agrees: bool, cert_sign: bool = False) -> x509.KeyUsage:
    flags = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "crl_sign"), False
    )
    return x509.KeyUsage(
        digital_signature=signs,
        key_agreement=agrees,
        key_cert_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
        **flags,
    )


def _issue(
    public_key: ec.EllipticCurvePublicKey,
    subject_cn: str,
    *,
    usage: x509.KeyUsage | None = None,
    serial: int = 0x1234,
    issuer_key: ec.EllipticCurvePrivateKey = CA_KEY,
    ca: bool = False,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(CA_NAME)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=365))
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.DER)


CA_DER = _issue(CA_KEY.public_key(), "metertwin test CA", usage=_usage(True, False, True), ca=True)
SERVER_CN = "4D4D4D0000BC614E"
CLIENT_CN = "4D4D4D0000000001"


def _store_with_key(kind: CertificateType = CertificateType.DIGITAL_SIGNATURE) -> CertificateStore:
    store = CertificateStore(1, SERVER_SYSTEM_TITLE)
    store.generate_key_pair(kind)
    return store


def _own_public_key(store: CertificateStore, kind: CertificateType) -> ec.EllipticCurvePublicKey:
    key = store.private_key(kind)
    assert key is not None
    return key.public_key()


@pytest.mark.parametrize(
    ("suite", "curve", "hash_name"), [(1, "secp256r1", "sha256"), (2, "secp384r1", "sha384")]
)
@pytest.mark.parametrize("kind", list(CertificateType)[:3])
def test_certificate_request_names_the_system_title_and_asks_the_key_usage(
    suite: int, curve: str, hash_name: str, kind: CertificateType
) -> None:
    store = CertificateStore(suite, SERVER_SYSTEM_TITLE)
    store.generate_key_pair(kind)
    request = x509.load_der_x509_csr(store.certificate_signing_request(kind))
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == f"CN={SERVER_CN}"
    key = request.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curve
    assert request.signature_hash_algorithm is not None
    assert request.signature_hash_algorithm.name == hash_name
    assert key.public_numbers() == _own_public_key(store, kind).public_numbers()
    usage = request.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature == (kind is not CertificateType.KEY_AGREEMENT)
    assert usage.key_agreement == (kind is not CertificateType.DIGITAL_SIGNATURE)


def test_a_request_needs_a_key_pair_and_a_known_type() -> None:
    store = CertificateStore(1, SERVER_SYSTEM_TITLE)
    with pytest.raises(CertificateError):
        store.certificate_signing_request(CertificateType.DIGITAL_SIGNATURE)
    for bad in (3, 9):
        with pytest.raises(CertificateError):
            store.generate_key_pair(bad)
    with pytest.raises(ValueError):
        CertificateStore(0, SERVER_SYSTEM_TITLE)


def test_import_list_export_and_remove_our_own_certificate() -> None:
    store = _store_with_key()
    store.import_certificate(CA_DER)
    der = _issue(
        _own_public_key(store, CertificateType.DIGITAL_SIGNATURE),
        SERVER_CN,
        usage=_usage(True, False),
        serial=0x01F2,
    )
    stored = store.import_certificate(der)
    assert stored.entity is CertificateEntity.SERVER
    listed = store.certificates()
    assert listed[1] == (
        0,  # server
        0,  # digital signature
        bytes.fromhex("01F2"),
        CA_NAME.public_bytes(),
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_CN)]).public_bytes(),
        b"",
    )
    assert listed[0][:2] == (CertificateEntity.CERTIFICATION_AUTHORITY, CertificateType.OTHER)
    assert store.export_by_entity(0, 0, SERVER_SYSTEM_TITLE) == der
    assert store.export_by_serial(bytes.fromhex("01F2"), CA_NAME.public_bytes()) == der
    store.remove_by_serial(bytes.fromhex("01F2"), CA_NAME.public_bytes())
    with pytest.raises(CertificateError):
        store.export_by_entity(0, 0, SERVER_SYSTEM_TITLE)
    with pytest.raises(CertificateError):
        store.remove_by_entity(0, 0, SERVER_SYSTEM_TITLE)


def test_a_client_certificate_gives_the_peer_key() -> None:
    store = CertificateStore(1, SERVER_SYSTEM_TITLE)
    client_key = ec.generate_private_key(ec.SECP256R1())
    store.import_certificate(_issue(client_key.public_key(), CLIENT_CN, usage=_usage(False, True)))
    key = store.public_key(
        CertificateEntity.CLIENT, CertificateType.KEY_AGREEMENT, CLIENT_SYSTEM_TITLE
    )
    assert key.public_numbers() == client_key.public_key().public_numbers()
    store.remove_by_entity(1, 1, CLIENT_SYSTEM_TITLE)
    assert store.certificates() == []


def test_a_newer_certificate_of_the_same_subject_and_type_replaces_the_old() -> None:
    store = CertificateStore(1, SERVER_SYSTEM_TITLE)
    first, second = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    store.import_certificate(
        _issue(first.public_key(), CLIENT_CN, usage=_usage(True, False), serial=1)
    )
    store.import_certificate(
        _issue(second.public_key(), CLIENT_CN, usage=_usage(True, False), serial=2)
    )
    assert [info[2] for info in store.certificates()] == [b"\x02"]


def test_import_refusals() -> None:
    store = _store_with_key()
    own = _own_public_key(store, CertificateType.DIGITAL_SIGNATURE)
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    cases = {
        "garbage": b"\x30\x03\x02\x01\x00",
        "empty": b"",
        "P-384 key in suite 1": _issue(p384, CLIENT_CN, usage=_usage(True, False)),
        "no key usage": _issue(own, SERVER_CN),
        "neither usage": _issue(own, SERVER_CN, usage=_usage(False, False, True)),
        "our title, another key": _issue(stranger, SERVER_CN, usage=_usage(True, False)),
        "our title, no key pair of that type": _issue(own, SERVER_CN, usage=_usage(False, True)),
        "CA without keyCertSign": _issue(stranger, "CA2", usage=_usage(True, False), ca=True),
    }
    for what, der in cases.items():
        with pytest.raises(CertificateError):
            store.import_certificate(der)
        assert store.certificates() == [], what


def test_a_certificate_naming_a_held_ca_must_be_signed_by_it() -> None:
    store = CertificateStore(1, SERVER_SYSTEM_TITLE)
    store.import_certificate(CA_DER)
    impostor = ec.generate_private_key(ec.SECP256R1())
    client = ec.generate_private_key(ec.SECP256R1()).public_key()
    forged = _issue(client, CLIENT_CN, usage=_usage(True, False), issuer_key=impostor)
    with pytest.raises(CertificateError):
        store.import_certificate(forged)
    store.import_certificate(_issue(client, CLIENT_CN, usage=_usage(True, False)))
    assert len(store.certificates()) == 2


def test_a_new_key_pair_drops_the_certificate_of_the_old_one() -> None:
    store = _store_with_key()
    own = _own_public_key(store, CertificateType.DIGITAL_SIGNATURE)
    store.import_certificate(_issue(own, SERVER_CN, usage=_usage(True, False)))
    store.generate_key_pair(CertificateType.DIGITAL_SIGNATURE)
    assert store.certificates() == []
    assert _own_public_key(store, CertificateType.DIGITAL_SIGNATURE).public_numbers() != (
        own.public_numbers()
    )


def test_state_round_trips_through_json_with_pkcs8_keys() -> None:
    store = _store_with_key(CertificateType.TLS)
    own = _own_public_key(store, CertificateType.TLS)
    store.import_certificate(CA_DER)
    store.import_certificate(_issue(own, SERVER_CN, usage=_usage(True, True)))
    data = store.to_bytes()
    state = json.loads(data)
    pkcs8 = bytes.fromhex(state["key_pairs"]["2"])
    assert serialization.load_der_private_key(pkcs8, None).public_key().public_numbers() == (
        own.public_numbers()
    )
    restored = CertificateStore.from_bytes(data)
    assert restored.certificates() == store.certificates()
    assert restored.to_state() == store.to_state()
    assert restored.suite.number == 1
    for damaged in (b"", b"[]", b'{"version": 2}', data.replace(b'"suite": 1', b'"suite": 0')):
        with pytest.raises(CertificateError):
            CertificateStore.from_bytes(damaged)


@given(st.binary(max_size=600))
def test_import_of_any_bytes_raises_only_certificate_error(der: bytes) -> None:
    with contextlib.suppress(CertificateError):
        FUZZ_STORE.import_certificate(der)


@given(st.data())
def test_import_of_a_mutated_certificate_raises_only_certificate_error(data: st.DataObject) -> None:
    der = bytearray(CLIENT_DER)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    with contextlib.suppress(CertificateError):
        FUZZ_STORE.import_certificate(bytes(der[:cut] if data.draw(st.booleans()) else der))


@given(st.binary(max_size=300))
def test_state_of_any_bytes_raises_only_certificate_error(data: bytes) -> None:
    with contextlib.suppress(CertificateError):
        CertificateStore.from_bytes(data)
    assert issubclass(CertificateError, SecurityError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@given(st.data())
def test_state_with_any_field_damaged_raises_only_certificate_error(data: st.DataObject) -> None:
    """A persisted state read back after damage: any one field replaced by any JSON value."""
    state = json.loads(FUZZ_STATE)
    path = data.draw(
        st.sampled_from(
            [
                "version",
                "suite",
                "system_title",
                "key_pairs",
                "certificates",
                "key",
                "entity",
                "der",
            ]
        )
    )
    value = data.draw(JSON)
    if path == "key":
        state["key_pairs"]["0"] = value
    elif path in ("entity", "der"):
        state["certificates"][0][path] = value
    else:
        state[path] = value
    with contextlib.suppress(CertificateError):
        CertificateStore.from_state(state)


FUZZ_STORE = _store_with_key()
FUZZ_STORE.import_certificate(CA_DER)  # so mutated certificates also meet the issuer check
CLIENT_DER = _issue(
    ec.generate_private_key(ec.SECP256R1()).public_key(), CLIENT_CN, usage=_usage(True, False)
)
_STATE_STORE = _store_with_key()
_STATE_STORE.import_certificate(CLIENT_DER)
FUZZ_STATE = _STATE_STORE.to_bytes()


def test_a_certificate_with_a_non_positive_serial_is_refused() -> None:
    """RFC 5280 4.1.2.2: serials are positive; a negative one would not fit attribute 6."""
    good = bytearray(CLIENT_DER)
    serial_at = good.index(bytes.fromhex("02021234"))  # INTEGER 0x1234 in the TBSCertificate
    good[serial_at + 2] = 0x92  # now 0x9234: negative in DER
    with pytest.raises(CertificateError):
        FUZZ_STORE.import_certificate(bytes(good))
