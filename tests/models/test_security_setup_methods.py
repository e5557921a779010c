"""Security setup (class 64 version 1) methods 3 to 8 and attribute 6 through the
LogicalDevice ACTION path (issue 12): key_agreement, generate_key_pair,
generate_certificate_request, import/export/remove_certificate, and their refusals.

Parameter layouts: Blue Book 4.4.7 as listed in /work/shared/reference/dlms.md ("Security
setup (64)"); certificate_identification {type enum, by entity {entity, type, system_title} |
by serial {serial_number, issuer}} as spelled out in gurux's GXDLMSSecuritySetup.cpp
(ValidateCertificateIdentification) and DLMS_SPODES's security_setup/ver1.py (youserj);
certificate_info {entity, type, serial_number, issuer, subject, subject_alt_name} as in the
latter. The ECDH, KDF and ECDSA primitives have their own vectors (tests/security/); here the
client side of the agreement is computed with them independently of the server's state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.models.test_security_setup import (
    ECDSA_SAP,
    HLS_SAP,
    T0,
    _act,
    _context,
    _material,
    _policy,
    _security_log,
)
from tests.security.test_certificates import CA_DER, _issue, _usage

from metertwin.codec.axdr import Data
from metertwin.codec.enums import ActionResult
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.errors import CosemError
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.loader import DeviceModel
from metertwin.security.key_agreement import (
    agreed_key,
    new_ephemeral_key,
    open_signed_ephemeral_key,
    signed_ephemeral_key,
)
from metertwin.security.suites import security_suite
from metertwin.storage import MeterStore

CLIENT_TITLE = bytes.fromhex("4D4D4D0000000001")
SUITE_1 = security_suite(1)  # magno22's 0x41 (docs/dlms.md)
KEY_AGREEMENT, IMPORT, EXPORT, REMOVE = 3, 6, 7, 8
GENERATE, REQUEST = 4, 5


class Head:
    """A head-end on magno22's HLS-ECDSA association: its signing key in the config."""

    def __init__(
        self,
        tmp_path: Path,
        commits: list[int] | None = None,
        curve: ec.EllipticCurve | None = None,
    ) -> None:
        self.signing_key = ec.generate_private_key(curve or ec.SECP256R1())
        pem = tmp_path / "client.pem"
        pem.write_bytes(
            self.signing_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        overrides = {
            "dlms": {"client_system_title": CLIENT_TITLE.hex(), "client_public_key": str(pem)}
        }
        self.model: DeviceModel = load_model("magno22", overrides)
        self.meter = Meter(self.model.spec, T0, "12345678")
        seen = commits if commits is not None else []
        self.device = build_logical_device(self.model, self.meter, lambda: seen.append(1))

    def restart(self) -> None:
        self.meter = Meter.from_state(self.model.spec, self.meter.to_state())
        self.device = build_logical_device(self.model, self.meter, lambda: None)

    def security_state(self) -> object:
        return self.meter.to_state()["dlms_security"]

    def server_title(self) -> bytes:
        return _material(self.device, ECDSA_SAP).server_system_title

    def server_signing_key(self) -> ec.EllipticCurvePublicKey:
        der = _material(self.device, ECDSA_SAP).server_signing_key
        assert der is not None
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.public_key()

    def act(self, method: int, parameters: Data) -> Data | None:
        return _act(self.device, ECDSA_SAP, method, parameters)

    def refused(self, method: int, parameters: Data) -> ActionResult:
        with pytest.raises(CosemError) as refusal:
            self.act(method, parameters)
        return refusal.value.action_result

    def certificates(self) -> list[tuple[object, ...]]:
        setup = _policy(self.device, ECDSA_SAP).security_setup
        assert setup is not None
        value = self.device.get(
            _context(self.device, ECDSA_SAP), AttributeDescriptor(64, setup, 6), None
        )
        return [
            tuple(
                field.as_int() if i < 2 else field.as_bytes()
                for i, field in enumerate(info.as_items())
            )
            for info in value.as_items()
        ]


def _agreement(*entries: tuple[int, bytes]) -> Data:
    return Data.array(
        [Data.structure([Data.enum(key_id), Data.octet_string(data)]) for key_id, data in entries]
    )


def _by_entity(entity: int, kind: int, title: bytes) -> Data:
    return Data.structure(
        [
            Data.enum(0),
            Data.structure([Data.enum(entity), Data.enum(kind), Data.octet_string(title)]),
        ]
    )


def _by_serial(serial: bytes, issuer: bytes) -> Data:
    return Data.structure(
        [Data.enum(1), Data.structure([Data.octet_string(serial), Data.octet_string(issuer)])]
    )


# -- key_agreement (method 3) ---------------------------------------------------------------


def test_key_agreement_installs_the_keys_both_sides_derive(tmp_path: Path) -> None:
    """C(2e, 0s): the client's signed ephemeral keys for the EK and the AK; the answer holds
    the server's signed ephemeral keys, from which the client derives the same keys."""
    commits: list[int] = []
    head = Head(tmp_path, commits)
    policy = _policy(head.device, ECDSA_SAP)
    head.device.next_invocation_counter(policy)
    assert head.device.accept_invocation_counter(policy, CLIENT_TITLE, 9)
    ephemerals = {key_id: new_ephemeral_key(SUITE_1) for key_id in (0, 2)}
    request = _agreement(
        *(
            (key_id, signed_ephemeral_key(key_id, key.public_key(), head.signing_key, SUITE_1))
            for key_id, key in ephemerals.items()
        )
    )
    before = len(commits)
    answer = head.act(KEY_AGREEMENT, request)
    assert len(commits) > before  # committed before the answer
    assert answer is not None
    derived = {}
    for entry in answer.as_items():
        key_id, key_data = entry.as_items()[0].as_int(), entry.as_items()[1].as_bytes()
        server_ephemeral = open_signed_ephemeral_key(
            key_id, key_data, head.server_signing_key(), SUITE_1
        )
        derived[key_id] = agreed_key(
            SUITE_1,
            ephemerals[key_id],
            server_ephemeral,
            initiator_system_title=CLIENT_TITLE,
            responder_system_title=head.server_title(),
        )
    assert set(derived) == {0, 2}
    material = _material(head.device, ECDSA_SAP)
    assert material.global_unicast_key == derived[0] and len(derived[0]) == 16
    assert material.authentication_key == derived[2] and derived[2] != derived[0]
    assert EventCode.SECURITY_KEY_CHANGED in _security_log(head.meter)
    # a new EK restarts the counters that belong to it, as key_transfer does
    assert head.device.next_invocation_counter(policy) == 1  # a new key starts at 1
    assert head.device.accept_invocation_counter(policy, CLIENT_TITLE, 1)
    head.restart()
    assert _material(head.device, ECDSA_SAP).global_unicast_key == derived[0]


def _signed(head: Head, key_id: int, signer: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    key = new_ephemeral_key(SUITE_1).public_key()
    return signed_ephemeral_key(key_id, key, signer or head.signing_key, SUITE_1)


@pytest.mark.parametrize(
    "damage",
    ["wrong signer", "signature altered", "point altered", "truncated", "signed as another key id"],
)
def test_a_key_agreement_the_client_did_not_sign_changes_nothing(
    tmp_path: Path, damage: str
) -> None:
    """One bad entry refuses the whole agreement with other-reason: no key, counter or log
    changes, even for the good entry beside it."""
    head = Head(tmp_path)
    good = _signed(head, 2)
    bad = {
        "wrong signer": lambda: _signed(head, 0, ec.generate_private_key(ec.SECP256R1())),
        "signature altered": lambda: (lambda d: d[:-1] + bytes([d[-1] ^ 1]))(_signed(head, 0)),
        "point altered": lambda: (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:])(_signed(head, 0)),
        "truncated": lambda: _signed(head, 0)[:-1],
        "signed as another key id": lambda: _signed(head, 1),
    }[damage]()
    state = head.security_state()
    assert head.refused(KEY_AGREEMENT, _agreement((2, good), (0, bad))) is ActionResult.OTHER_REASON
    assert head.security_state() == state
    assert EventCode.SECURITY_KEY_CHANGED not in _security_log(head.meter)


@pytest.mark.parametrize(
    "parameters",
    [
        Data.array([]),
        Data.octet_string(b"\x00" * 128),
        _agreement((3, b"\x00" * 128)),
        _agreement((0, b"\x00" * 128), (0, b"\x00" * 128)),
        Data.array([Data.structure([Data.enum(0), Data.visible_string("x")])]),
        Data.array([Data.structure([Data.enum(0)])]),
    ],
    ids=["empty", "not an array", "the KEK", "key id twice", "key_data not octets", "short entry"],
)
def test_a_malformed_key_agreement_is_type_unmatched(tmp_path: Path, parameters: Data) -> None:
    head = Head(tmp_path)
    state = head.security_state()
    assert head.refused(KEY_AGREEMENT, parameters) is ActionResult.TYPE_UNMATCHED
    assert head.security_state() == state


def test_a_client_key_on_another_curve_is_refused_not_a_crash(tmp_path: Path) -> None:
    """A P-384 client key configured for a suite 1 (P-256) setup: no signature verifies."""
    head = Head(tmp_path, curve=ec.SECP384R1())
    own = new_ephemeral_key(SUITE_1)
    data = signed_ephemeral_key(0, own.public_key(), own, SUITE_1)
    state = head.security_state()
    assert head.refused(KEY_AGREEMENT, _agreement((0, data))) is ActionResult.OTHER_REASON
    assert head.security_state() == state


def test_key_agreement_needs_the_client_system_title() -> None:
    """Party U of the KDF is the setup's client_system_title (attribute 4), else the
    association's calling-AP-title; pmm1220's default setup has neither here (a context
    without one) and no client key: other-reason."""
    model = load_model("pmm1220")
    device = build_logical_device(model, Meter(model.spec, T0, "1"), lambda: None)
    key = ec.generate_private_key(ec.SECP384R1())
    data = signed_ephemeral_key(0, key.public_key(), key, security_suite(2))
    with pytest.raises(CosemError) as refused:
        _act(device, ECDSA_SAP, KEY_AGREEMENT, _agreement((0, data)))
    assert refused.value.action_result is ActionResult.OTHER_REASON


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        (KEY_AGREEMENT, _agreement((0, b"\x00" * 128))),
        (GENERATE, Data.enum(0)),
        (REQUEST, Data.enum(0)),
        (IMPORT, Data.octet_string(CA_DER)),
        (EXPORT, _by_entity(0, 0, b"MAG\x00\x00\xbc\x61\x4e")),
        (REMOVE, _by_serial(b"\x12\x34", b"issuer")),
    ],
)
def test_a_suite_0_setup_refuses_methods_3_to_8_with_other_reason(
    method: int, parameters: Data
) -> None:
    """Suite 0 has no ECC: well-formed parameters, yet the setup cannot (docs/dlms.md)."""
    model = load_model("magno22")
    meter = Meter(model.spec, T0, "12345678")
    device = build_logical_device(model, meter, lambda: None)
    state = meter.to_state()["dlms_security"]
    with pytest.raises(CosemError) as refused:
        _act(device, HLS_SAP, method, parameters)
    assert refused.value.action_result is ActionResult.OTHER_REASON
    assert meter.to_state()["dlms_security"] == state


# -- generate_key_pair, generate_certificate_request (methods 4, 5) -------------------------


def _request(head: Head, kind: int) -> x509.CertificateSigningRequest:
    answer = head.act(REQUEST, Data.enum(kind))
    assert answer is not None
    request = x509.load_der_x509_csr(answer.as_bytes())
    assert request.is_signature_valid
    return request


def _point(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_the_certificate_request_names_our_system_title_and_holds_our_key(
    tmp_path: Path,
) -> None:
    """PKCS#10 DER, subject CN = the server system title in hex (Green Book certificate
    profile, docs/security.md); for the digital signature type the key is the HLS-ECDSA
    signing key the meter made at its first start."""
    head = Head(tmp_path)
    request = _request(head, 0)
    assert request.subject.rfc4514_string() == f"CN={head.server_title().hex().upper()}"
    assert _point(request.public_key()) == _point(head.server_signing_key())
    assert head.refused(REQUEST, Data.enum(1)) is ActionResult.OTHER_REASON  # none made yet
    head.act(GENERATE, Data.enum(1))
    agreement = _request(head, 1)
    usage = agreement.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_agreement and not usage.digital_signature
    assert _point(agreement.public_key()) != _point(request.public_key())


def test_a_new_signing_key_pair_is_the_one_hls_and_key_agreement_use(tmp_path: Path) -> None:
    head = Head(tmp_path)
    old = _point(head.server_signing_key())
    head.act(GENERATE, Data.enum(0))
    new = _point(head.server_signing_key())
    assert new != old
    assert _point(_request(head, 0).public_key()) == new
    assert EventCode.SECURITY_KEY_CHANGED in _security_log(head.meter)
    answer = head.act(KEY_AGREEMENT, _agreement((0, _signed(head, 0))))
    assert answer is not None
    key_data = answer.as_items()[0].as_items()[1].as_bytes()
    open_signed_ephemeral_key(0, key_data, head.server_signing_key(), SUITE_1)  # signed by it


@pytest.mark.parametrize(
    "parameters",
    [Data.enum(3), Data.unsigned(0), Data.octet_string(b"\x00"), Data.array([])],
    ids=["other", "unsigned", "octets", "array"],
)
@pytest.mark.parametrize("method", [GENERATE, REQUEST])
def test_a_key_pair_type_other_than_0_1_2_is_type_unmatched(
    tmp_path: Path, method: int, parameters: Data
) -> None:
    head = Head(tmp_path)
    state = head.security_state()
    assert head.refused(method, parameters) is ActionResult.TYPE_UNMATCHED
    assert head.security_state() == state


# -- import, export, remove (methods 6-8) and attribute 6 ------------------------------------

CA_SERIAL = b"\x12\x34"  # tests/security/test_certificates.py's CA


def _server_certificate(head: Head, serial: int = 0x5001) -> bytes:
    """The CA's certificate for our digital signature key (what a head-end makes of the
    request of method 5)."""
    request = _request(head, 0)
    key = request.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return _issue(key, head.server_title().hex().upper(), usage=_usage(True, False), serial=serial)


def _client_certificate(key: ec.EllipticCurvePrivateKey, serial: int = 0x6001) -> bytes:
    return _issue(
        key.public_key(), CLIENT_TITLE.hex().upper(), usage=_usage(True, False), serial=serial
    )


def _issuer(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).issuer.public_bytes()


def test_imported_certificates_are_listed_exported_and_removed(tmp_path: Path) -> None:
    head = Head(tmp_path)
    assert head.certificates() == []
    server = _server_certificate(head)
    client = _client_certificate(head.signing_key)
    for der in (CA_DER, client, server):
        assert head.act(IMPORT, Data.octet_string(der)) is None
    listed = head.certificates()
    assert [(entity, kind, serial) for entity, kind, serial, *_ in listed] == [
        (2, 3, CA_SERIAL),  # certification authority, type other
        (1, 0, b"\x60\x01"),  # client, digital signature
        (0, 0, b"\x50\x01"),  # server, digital signature
    ]
    ours = x509.load_der_x509_certificate(server)
    assert listed[2][3:] == (ours.issuer.public_bytes(), ours.subject.public_bytes(), b"")
    exported = head.act(EXPORT, _by_entity(1, 0, CLIENT_TITLE))
    assert exported is not None and exported.as_bytes() == client
    exported = head.act(EXPORT, _by_serial(b"\x50\x01", _issuer(server)))
    assert exported is not None and exported.as_bytes() == server
    assert head.act(REMOVE, _by_serial(b"\x60\x01", _issuer(client))) is None
    assert [serial for _, _, serial, *_ in head.certificates()] == [CA_SERIAL, b"\x50\x01"]
    state = head.security_state()
    assert head.refused(EXPORT, _by_entity(1, 0, CLIENT_TITLE)) is ActionResult.OTHER_REASON
    assert head.refused(REMOVE, _by_entity(1, 0, CLIENT_TITLE)) is ActionResult.OTHER_REASON
    assert head.security_state() == state


def test_certificates_and_generated_keys_survive_a_crash(tmp_path: Path) -> None:
    """Committed before the ACTION answers: a crash right after (the store closed without
    another commit) keeps the certificates and key pairs (ARCHITECTURE: nothing
    acknowledged is ever lost)."""
    head = Head(tmp_path)
    store = MeterStore.open(tmp_path / "store")
    store.create(
        head.model.source, head.model.text, {}, head.meter.to_state(), {"model": "magno22"}
    )
    device = build_logical_device(
        head.model, head.meter, lambda: store.commit(head.meter.to_state())
    )
    head.device = device
    head.act(GENERATE, Data.enum(1))
    agreement_key = _point(_request(head, 1).public_key())
    head.act(IMPORT, Data.octet_string(CA_DER))
    head.act(IMPORT, Data.octet_string(_server_certificate(head)))
    listed = head.certificates()
    store.close()  # crash
    with MeterStore.open(tmp_path / "store") as reopened:
        head.meter = Meter.from_state(head.model.spec, reopened.load().state)
    head.device = build_logical_device(head.model, head.meter, lambda: None)
    assert head.certificates() == listed and len(listed) == 2
    assert _point(_request(head, 1).public_key()) == agreement_key
    exported = head.act(EXPORT, _by_entity(0, 0, head.server_title()))
    assert exported is not None and x509.load_der_x509_certificate(exported.as_bytes())


def test_an_imported_client_certificate_gives_the_clients_signing_key(tmp_path: Path) -> None:
    """The client's digital signature certificate (its subject the setup's client system
    title) replaces ``[dlms] client_public_key`` for key_agreement and HLS-ECDSA."""
    head = Head(tmp_path)
    renewed = ec.generate_private_key(ec.SECP256R1())
    state = head.security_state()
    refused = head.refused(KEY_AGREEMENT, _agreement((0, _signed(head, 0, renewed))))
    assert refused is ActionResult.OTHER_REASON and head.security_state() == state
    head.act(IMPORT, Data.octet_string(CA_DER))
    head.act(IMPORT, Data.octet_string(_client_certificate(renewed)))
    assert _material(
        head.device, ECDSA_SAP
    ).client_signing_public_key == renewed.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert head.act(KEY_AGREEMENT, _agreement((0, _signed(head, 0, renewed)))) is not None
    refused = head.refused(KEY_AGREEMENT, _agreement((0, _signed(head, 0))))
    assert refused is ActionResult.OTHER_REASON  # the config's key no longer serves


@pytest.mark.parametrize(
    "certificate",
    [
        b"\x30\x03\x02\x01\x00",
        b"not a certificate",
        _issue(
            ec.generate_private_key(ec.SECP384R1()).public_key(), "X", usage=_usage(True, False)
        ),
    ],
    ids=["not X.509", "not DER", "P-384 on a suite 1 setup"],
)
def test_an_unusable_certificate_is_refused_with_other_reason(
    tmp_path: Path, certificate: bytes
) -> None:
    head = Head(tmp_path)
    state = head.security_state()
    assert head.refused(IMPORT, Data.octet_string(certificate)) is ActionResult.OTHER_REASON
    assert head.security_state() == state
    assert head.certificates() == []


def test_a_certificate_for_our_title_but_not_our_key_is_refused(tmp_path: Path) -> None:
    head = Head(tmp_path)
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    forged = _issue(stranger, head.server_title().hex().upper(), usage=_usage(True, False))
    assert head.refused(IMPORT, Data.octet_string(forged)) is ActionResult.OTHER_REASON
    assert head.certificates() == []


@pytest.mark.parametrize(
    "parameters",
    [
        Data.octet_string(b""),
        Data.enum(0),
        Data.structure([Data.enum(2), Data.structure([])]),
        Data.structure([Data.enum(0), Data.structure([Data.enum(0), Data.enum(0)])]),
        Data.structure(
            [Data.enum(0), Data.structure([Data.enum(4), Data.enum(0), Data.octet_string(b"")])]
        ),
        Data.structure([Data.enum(1), Data.structure([Data.enum(1), Data.octet_string(b"")])]),
        Data.structure([Data.unsigned(1), Data.structure([])]),
        Data.structure([Data.enum(1)]),
    ],
    ids=[
        "octets",
        "enum",
        "type 2",
        "by entity short",
        "entity 4",
        "serial not octets",
        "type not enum",
        "no options",
    ],
)
@pytest.mark.parametrize("method", [EXPORT, REMOVE])
def test_a_malformed_certificate_identification_is_type_unmatched(
    tmp_path: Path, method: int, parameters: Data
) -> None:
    head = Head(tmp_path)
    head.act(IMPORT, Data.octet_string(CA_DER))
    state = head.security_state()
    assert head.refused(method, parameters) is ActionResult.TYPE_UNMATCHED
    assert head.security_state() == state


@pytest.mark.parametrize(
    "parameters", [Data.octet_string(b""), Data.array([]), Data.visible_string("x")]
)
def test_an_import_that_is_not_a_non_empty_octet_string_is_type_unmatched(
    tmp_path: Path, parameters: Data
) -> None:
    head = Head(tmp_path)
    assert head.refused(IMPORT, parameters) is ActionResult.TYPE_UNMATCHED
