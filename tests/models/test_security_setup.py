"""The HLS associations of the models and their Security setups (class 64 version 1,
issue 12): the associations each model serves, the setup objects read over a real
ServerConnection, key_transfer and security_activate, the invocation counters across a
simulated crash, and the `SecurityBackend` the DLMS server runs HLS with (docs/dlms.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.helpers import utc_ms
from tests.models.test_communication_log import _drive

from metertwin.codec.axdr import Data
from metertwin.codec.enums import ActionResult, AuthenticationMechanism
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.access import (
    AssociationContext,
    AssociationPolicy,
    AttributeAccess,
    MethodAccess,
    SecurityPolicy,
)
from metertwin.cosem.backend import LoginResult, SecurityBackend, SecurityEvent, SecurityMaterial
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.client.errors import ActionFailedError
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.meter.dlms_security import GREEN_BOOK_AK, GREEN_BOOK_EK
from metertwin.meter.events import EventCode
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.loader import model_from_text
from metertwin.schema import SchemaError
from metertwin.security.keys import wrap_key
from metertwin.storage import MeterStore

T0 = utc_ms(2026, 6, 1, 8)
HLS_SAP, ECDSA_SAP = 0x40, 0x41
AUTH_ENC_BOTH = 0x04 | 0x08 | 0x20 | 0x40
# RFC 3394, 4.1 "Wrap 128 bits of Key Data with a 128-bit KEK": the KEK is metertwin's demo
# KEK (docs/dlms.md), so this vector is a key_transfer a demo head-end can send.
RFC3394_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
RFC3394_WRAPPED = bytes.fromhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")
SECURITY_LOG = "0.0.99.98.5.255"

EXPECTED = {  # model -> client SAP -> (mechanism, suite, association e)
    "pmm1220": {
        HLS_SAP: (AuthenticationMechanism.HIGH_GMAC, 0, 4),
        ECDSA_SAP: (AuthenticationMechanism.HIGH_ECDSA, 2, 5),
    },
    "magno22": {
        HLS_SAP: (AuthenticationMechanism.HIGH_GMAC, 0, 5),
        ECDSA_SAP: (AuthenticationMechanism.HIGH_ECDSA, 1, 6),
    },
    "az3p": {HLS_SAP: (AuthenticationMechanism.HIGH_GMAC, 0, 4)},
    "metercom-pro": {HLS_SAP: (AuthenticationMechanism.HIGH_GMAC, 0, 4)},
}


def _device(
    name: str = "pmm1220", meter: Meter | None = None, commits: list[int] | None = None
) -> tuple[Meter, LogicalDevice]:
    model = load_model(name)
    meter = meter or Meter(model.spec, T0, "12345678")
    seen = commits if commits is not None else []
    return meter, build_logical_device(model, meter, lambda: seen.append(1))


def _policy(device: LogicalDevice, sap: int) -> AssociationPolicy:
    policy = device.association_policy(sap)
    assert policy is not None
    return policy


def _material(device: LogicalDevice, sap: int) -> SecurityMaterial:
    material = device.security_material(_policy(device, sap))
    assert material is not None
    return material


def _context(device: LogicalDevice, sap: int) -> AssociationContext:
    policy = _policy(device, sap)
    return AssociationContext(policy, sap, 1, policy.conformance, 1024, 1024, True)


def _act(device: LogicalDevice, sap: int, method: int, parameters: Data) -> Data | None:
    setup = _policy(device, sap).security_setup
    assert setup is not None
    return device.action(_context(device, sap), MethodDescriptor(64, setup, method), parameters)


def _transfer(*entries: tuple[int, bytes]) -> Data:
    return Data.array(
        [Data.structure([Data.enum(key_id), Data.octet_string(blob)]) for key_id, blob in entries]
    )


def _security_log(meter: Meter) -> list[int]:
    return [int(r.values[1]) for r in meter.recorder.drain() if r.profile == SECURITY_LOG]


def test_every_model_keeps_its_associations_and_gains_the_hls_ones() -> None:
    """0x40: HLS-GMAC, suite 0, authenticated and encrypted both ways; 0x41 (pmm1220, suite 2
    and magno22, suite 1): HLS-ECDSA; the public and LLS associations as before."""
    assert set(EXPECTED) == set(builtin_model_names())
    for name, secured in EXPECTED.items():
        _, device = _device(name)
        for sap, policy in device.policies.items():
            if sap not in secured:
                assert policy.security_setup is None, (name, sap)
                assert policy.mechanism in (
                    AuthenticationMechanism.LOWEST,
                    AuthenticationMechanism.LOW,
                )
                continue
            mechanism, suite, e = secured[sap]
            assert policy.mechanism is mechanism
            assert policy.logical_name == Obis(0, 0, 40, 0, e)
            assert policy.security_setup == Obis(0, 0, 43, 0, e)
            material = device.security_material(policy)
            assert material is not None
            assert (material.suite, material.policy) == (suite, SecurityPolicy(AUTH_ENC_BOTH))
        assert {p.client_sap for p in device.policies.values() if p.security_setup} == set(secured)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_association_objects_name_their_setup_mechanism_and_ciphered_context(
    name: str,
) -> None:
    """Attribute 4 application context 2.16.756.5.8.1.3 (LN with ciphering), 6 the
    mechanism name 2.16.756.5.8.2.5 / .7, 9 the setup; the others keep 0.0.43.0.0.255."""
    _, device = _device(name)
    management = _context(device, 1)
    for policy in device.policies.values():

        def read(index: int, policy: AssociationPolicy = policy) -> Data:
            return device.get(management, AttributeDescriptor(15, policy.logical_name, index), None)

        oid = [item.as_int() for item in read(4).as_items()]
        mechanism = [item.as_int() for item in read(6).as_items()]
        reference = read(9).as_bytes()
        if policy.security_setup is None:
            assert oid[-1] == 1 and reference == bytes(Obis(0, 0, 43, 0, 0))
        else:
            assert oid == [2, 16, 756, 5, 8, 1, 3]
            assert mechanism == [2, 16, 756, 5, 8, 2, int(policy.mechanism)]
            assert reference == bytes(policy.security_setup)
            assert policy.security_setup in policy.rights  # resolvable in its own list


def test_rights_keys_only_through_the_setups_own_association() -> None:
    """The setup is readable by its own association and the LLS management one; only its own
    HLS association may invoke its methods; every association reads its frame counter."""
    _, device = _device("pmm1220")
    setup, counter = Obis(0, 0, 43, 0, 4), Obis(0, 0, 43, 1, 4)
    own = _policy(device, HLS_SAP).rights[setup]
    assert own.method(1) is MethodAccess.ACCESS and own.method(2) is MethodAccess.ACCESS
    lls_management = _policy(device, 1).rights[setup]
    assert lls_management.attribute(2) is AttributeAccess.READ_ONLY
    assert lls_management.method(2) is MethodAccess.NO_ACCESS
    assert setup not in _policy(device, 32).rights and setup not in _policy(device, 16).rights
    for policy in device.policies.values():
        assert policy.rights[counter].attribute(2).readable
    with pytest.raises(CosemError):
        device.action(_context(device, 1), MethodDescriptor(64, setup, 2), _transfer())


def test_the_setup_and_counter_read_over_a_real_server_connection() -> None:
    """LLS management (client 1) reads the v1 setup; the public client reads the counter."""
    model = load_model("pmm1220")
    _, device = _device("pmm1220")
    connection = ServerConnection(device, 1)
    utility = next(a for a in model.dlms.associations if a.client_sap == 1)
    client = ClientAssociation(password=model.spec.security.default_secrets[utility.name])
    _drive(connection, 1, client.associate())
    setup = Obis(0, 0, 43, 0, 4)
    assert _drive(connection, 1, client.get(setup, 64, 2)).as_int() == AUTH_ENC_BOTH
    assert _drive(connection, 1, client.get(setup, 64, 3)).as_int() == 0
    assert _drive(connection, 1, client.get(setup, 64, 4)).as_bytes() == b""
    server_title = _drive(connection, 1, client.get(setup, 64, 5)).as_bytes()
    # PMM + serial 12345678 as 5 octets (docs/dlms.md, "System title")
    assert server_title == b"PMM" + (12345678).to_bytes(5, "big")
    assert _drive(connection, 1, client.get(setup, 64, 6)).as_items() == ()
    public = ClientAssociation()
    _drive(connection, 16, public.associate())
    counter = _drive(connection, 16, public.get(Obis(0, 0, 43, 1, 4), 1, 2))
    assert counter.type.name == "DOUBLE_LONG_UNSIGNED" and counter.as_int() == 1  # new key: 1
    with pytest.raises(ActionFailedError) as refused:
        _drive(connection, 1, client.action(setup, 64, 2, _transfer((0, RFC3394_WRAPPED))))
    assert refused.value.result is not ActionResult.SUCCESS
    assert _material(device, HLS_SAP).global_unicast_key == GREEN_BOOK_EK  # nothing changed


def test_key_transfer_unwraps_the_rfc3394_vector_with_the_demo_kek() -> None:
    commits: list[int] = []
    meter, device = _device(commits=commits)
    policy = _policy(device, HLS_SAP)
    device.next_invocation_counter(policy)
    assert device.accept_invocation_counter(policy, b"CLIENT01", 7)
    before = len(commits)
    _act(device, HLS_SAP, 2, _transfer((0, RFC3394_WRAPPED)))
    assert len(commits) > before  # committed before the answer
    material = device.security_material(policy)
    assert material is not None and material.global_unicast_key == RFC3394_KEY
    assert material.authentication_key == GREEN_BOOK_AK
    # a new EK restarts the counters that belong to it
    assert device.next_invocation_counter(policy) == 1  # a new key starts at 1
    assert device.accept_invocation_counter(policy, b"CLIENT01", 1)
    assert EventCode.SECURITY_KEY_CHANGED in _security_log(meter)


@pytest.mark.parametrize(
    "blob",
    [
        RFC3394_WRAPPED[:-8],
        RFC3394_WRAPPED[:-1],
        bytes([RFC3394_WRAPPED[0] ^ 1]) + RFC3394_WRAPPED[1:],
    ],
    ids=["truncated by a block", "truncated by an octet", "altered"],
)
def test_a_bad_blob_refuses_the_whole_transfer_and_changes_nothing(blob: bytes) -> None:
    meter, device = _device()
    state = meter.to_state()["dlms_security"]
    good_ak = wrap_key(bytes.fromhex("000102030405060708090A0B0C0D0E0F"), bytes(range(16)))
    with pytest.raises(CosemError) as refused:
        _act(device, HLS_SAP, 2, _transfer((2, good_ak), (0, blob)))
    assert refused.value.action_result is ActionResult.OTHER_REASON
    assert meter.to_state()["dlms_security"] == state
    assert EventCode.SECURITY_KEY_CHANGED not in _security_log(meter)


@pytest.mark.parametrize(
    "parameters",
    [
        Data.array([]),
        Data.octet_string(RFC3394_WRAPPED),
        _transfer((4, RFC3394_WRAPPED)),
        _transfer((0, RFC3394_WRAPPED), (0, RFC3394_WRAPPED)),
        Data.array([Data.structure([Data.unsigned(0), Data.octet_string(RFC3394_WRAPPED)])]),
    ],
    ids=["empty", "not an array", "unknown key id", "key id twice", "key id not an enum"],
)
def test_a_malformed_transfer_is_type_unmatched(parameters: Data) -> None:
    meter, device = _device()
    state = meter.to_state()["dlms_security"]
    with pytest.raises(CosemError) as refused:
        _act(device, HLS_SAP, 2, parameters)
    assert refused.value.action_result is ActionResult.TYPE_UNMATCHED
    assert meter.to_state()["dlms_security"] == state


def test_a_new_kek_wraps_the_next_transfer() -> None:
    _, device = _device()
    demo_kek = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    new_kek = bytes(range(0x30, 0x40))
    _act(device, HLS_SAP, 2, _transfer((3, wrap_key(demo_kek, new_kek))))
    with pytest.raises(CosemError):
        _act(device, HLS_SAP, 2, _transfer((0, wrap_key(demo_kek, RFC3394_KEY))))
    _act(device, HLS_SAP, 2, _transfer((0, wrap_key(new_kek, RFC3394_KEY))))
    material = device.security_material(_policy(device, HLS_SAP))
    assert material is not None and material.global_unicast_key == RFC3394_KEY


def test_suite_2_transfers_need_aes_256_keys() -> None:
    """pmm1220's 0x41 is suite 2: its KEK (the demo KEK written twice) wraps 32-octet keys."""
    _, device = _device()
    kek = bytes.fromhex("000102030405060708090A0B0C0D0E0F") * 2
    with pytest.raises(CosemError):
        _act(device, ECDSA_SAP, 2, _transfer((0, wrap_key(kek, RFC3394_KEY))))
    _act(device, ECDSA_SAP, 2, _transfer((0, wrap_key(kek, RFC3394_KEY * 2))))
    material = device.security_material(_policy(device, ECDSA_SAP))
    assert material is not None and material.global_unicast_key == RFC3394_KEY * 2


def test_security_activate_only_strengthens_the_policy() -> None:
    """Blue Book class 64 v1: the policy can only be raised; weaker: other-reason, kept."""
    meter, device = _device("magno22")
    policy = _policy(device, ECDSA_SAP)
    with pytest.raises(CosemError) as weaker:
        _act(device, ECDSA_SAP, 1, Data.enum(0x04 | 0x20))
    assert weaker.value.action_result is ActionResult.OTHER_REASON
    with pytest.raises(CosemError) as malformed:
        _act(device, ECDSA_SAP, 1, Data.enum(AUTH_ENC_BOTH | 0x01))
    assert malformed.value.action_result is ActionResult.TYPE_UNMATCHED
    _act(device, ECDSA_SAP, 1, Data.enum(0xFC))
    material = device.security_material(policy)
    assert material is not None and int(material.policy) == 0xFC
    assert EventCode.SECURITY_POLICY_CHANGED in _security_log(meter)
    with pytest.raises(CosemError):  # suite 0 has no signing
        _act(device, HLS_SAP, 1, Data.enum(AUTH_ENC_BOTH | 0x10))


def test_the_logical_device_is_a_security_backend_with_the_lls_lockout() -> None:
    """Three wrong pass 3 proofs lock the HLS association (220, 220, 220 + 46), then 221;
    the LLS associations are not locked by it."""
    meter, device = _device()
    assert isinstance(device, SecurityBackend)
    policy = _policy(device, HLS_SAP)
    assert device.hls_allowed(policy) is LoginResult.ACCEPTED
    assert device.hls_verified(policy, True) is LoginResult.ACCEPTED
    results = [device.hls_verified(policy, False) for _ in range(3)]
    assert results == [LoginResult.WRONG_SECRET] * 3
    assert device.hls_allowed(policy) is LoginResult.LOCKED
    assert device.hls_allowed(_policy(device, ECDSA_SAP)) is LoginResult.ACCEPTED
    counts = meter.event_counts
    assert counts[EventCode.AUTHENTICATION_FAILURE] == 3
    assert counts[EventCode.WRONG_PASSWORDS] == 1
    assert counts[EventCode.ASSOCIATION_LOCKED_OUT] == 1
    meter.advance(meter.now_ms + 31 * 60_000)
    assert device.hls_allowed(policy) is LoginResult.ACCEPTED


def test_replays_are_refused_per_client_title_and_refusals_logged_as_one_burst() -> None:
    meter, device = _device()
    policy = _policy(device, HLS_SAP)
    assert device.accept_invocation_counter(policy, b"CLIENT01", 5)
    assert not device.accept_invocation_counter(policy, b"CLIENT01", 5)
    assert not device.accept_invocation_counter(policy, b"CLIENT01", 4)
    assert device.accept_invocation_counter(policy, b"CLIENT02", 1)
    assert device.accept_invocation_counter(policy, b"CLIENT01", 6)
    for _ in range(500):  # a flood: one entry, its count grown (docs/events.md)
        device.security_refused(policy, SecurityEvent.DECIPHERING_FAILED)
    device.security_refused(policy, SecurityEvent.REPLAY)
    device.security_refused(policy, SecurityEvent.HLS_FAILED)  # hls_verified logged it
    assert meter.event_counts[EventCode.PROTECTED_APDU_REFUSED] == 500
    assert EventCode.AUTHENTICATION_FAILURE not in meter.event_counts
    book = meter.event_logs[SECURITY_LOG]
    assert [(e.code, e.count) for e in book.entries] == [
        (EventCode.PROTECTED_APDU_REFUSED, 500),
        (EventCode.REPLAY_REFUSED, 1),
    ]


def test_the_meter_makes_and_keeps_its_own_ecdsa_key_pairs() -> None:
    """No private key ships: each meter generates P-384 (suite 2) / P-256 (suite 1) at its
    first start, keeps it across a save, and two meters differ."""
    meter, device = _device("pmm1220")
    material = device.security_material(_policy(device, ECDSA_SAP))
    assert material is not None and material.server_signing_key is not None
    key = serialization.load_der_private_key(material.server_signing_key, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    assert _material(device, HLS_SAP).server_signing_key is None
    restored = Meter.from_state(meter.spec, meter.to_state())
    _, again = _device("pmm1220", restored)
    same = again.security_material(_policy(again, ECDSA_SAP))
    assert same is not None and same.server_signing_key == material.server_signing_key
    _, other = _device("pmm1220")
    assert _material(other, ECDSA_SAP).server_signing_key != material.server_signing_key
    _, magno = _device("magno22")
    p256 = magno.security_material(_policy(magno, ECDSA_SAP))
    assert p256 is not None and p256.server_signing_key is not None
    loaded = serialization.load_der_private_key(p256.server_signing_key, password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey) and loaded.curve.name == "secp256r1"


def test_the_send_counter_is_never_reused_after_a_crash(tmp_path: Path) -> None:
    """The bound is committed before the first value of each block; the counter object
    shows the next value; a crash (the store closed without a last commit) resumes above
    every value handed out."""
    model = load_model("pmm1220")
    meter = Meter(model.spec, T0, "12345678")
    store = MeterStore.open(tmp_path)
    store.create(model.source, model.text, {}, meter.to_state(), {"model": "pmm1220"})
    device = build_logical_device(model, meter, lambda: store.commit(meter.to_state()))
    policy = _policy(device, HLS_SAP)
    handed = [device.next_invocation_counter(policy) for _ in range(1500)]
    assert handed == list(range(1, 1501))  # a new key's first counter is 1
    counter = AttributeDescriptor(1, Obis(0, 0, 43, 1, 4), 2)
    assert device.get(_context(device, 16), counter, None).as_int() == 1501
    assert device.accept_invocation_counter(policy, b"CLIENT01", 41)
    store.close()  # crash: whatever happened since the last commit is lost
    with MeterStore.open(tmp_path) as reopened:
        revived = Meter.from_state(model.spec, reopened.load().state)
        again = build_logical_device(model, revived, lambda: None)
        assert again.next_invocation_counter(_policy(again, HLS_SAP)) > max(handed)


def test_receive_counters_persist_at_release() -> None:
    commits: list[int] = []
    meter, device = _device(commits=commits)
    context = _context(device, HLS_SAP)
    device.associated(context)
    assert device.accept_invocation_counter(context.policy, b"CLIENT01", 41)
    before = len(commits)
    device.released(context)
    assert len(commits) == before + 1
    restored = Meter.from_state(meter.spec, meter.to_state())
    _, again = _device("pmm1220", restored)
    assert not again.accept_invocation_counter(_policy(again, HLS_SAP), b"CLIENT01", 41)


def test_the_dlms_keys_and_titles_come_from_the_config(tmp_path: Path) -> None:
    pem = tmp_path / "client.pem"
    client_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem.write_bytes(
        client_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    overrides = {
        "dlms": {
            "key_ek": "11" * 16,
            "key_ak": "22" * 16,
            "key_kek": "33" * 16,
            "system_title": "4D54573132333435",
            "client_system_title": "4142434445464748",
            "client_public_key": str(pem),
        }
    }
    model = load_model("magno22", overrides)
    device = build_logical_device(model, Meter(model.spec, T0, "1"), lambda: None)
    gmac = device.security_material(_policy(device, HLS_SAP))
    assert gmac is not None
    assert (gmac.global_unicast_key, gmac.authentication_key) == (b"\x11" * 16, b"\x22" * 16)
    assert gmac.server_system_title == bytes.fromhex("4D54573132333435")
    assert gmac.client_system_title == b"ABCDEFGH"
    ecdsa = device.security_material(_policy(device, ECDSA_SAP))
    assert ecdsa is not None
    assert ecdsa.client_signing_public_key == client_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _act(device, HLS_SAP, 2, _transfer((0, wrap_key(b"\x33" * 16, RFC3394_KEY))))


@pytest.mark.parametrize(
    ("settings", "named", "message"),
    [
        ({"key_ek": "00112233"}, "dlms.key_ek", "expected 16 or 32 octets, got 4"),
        ({"key_ak": "zz" * 16}, "dlms.key_ak", "expected hexadecimal octets"),
        ({"key_kek": "00" * 17}, "dlms.key_kek", "expected 16 or 32 octets, got 17"),
        ({"system_title": "00" * 9}, "dlms.system_title", "expected 8 octets, got 9"),
        ({"client_system_title": "ABC"}, "dlms.client_system_title", "hexadecimal"),
        ({"client_public_key": "/nonexistent/c.pem"}, "dlms.client_public_key", "cannot read"),
        ({"key_ek": 42}, "dlms.key_ek", "expected a string"),
    ],
)
def test_config_refusals_name_the_setting_and_the_problem(
    settings: dict[str, object], named: str, message: str
) -> None:
    with pytest.raises(SchemaError) as refused:
        load_model("pmm1220", {"dlms": settings})
    assert refused.value.path == named
    assert message in refused.value.message


def test_a_pem_that_is_no_ec_public_key_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "not.pem"
    pem.write_text("hello\n")
    with pytest.raises(SchemaError) as refused:
        load_model("pmm1220", {"dlms": {"client_public_key": str(pem)}})
    assert "holds no PEM public key" in refused.value.message


@pytest.mark.parametrize(
    ("association", "named", "message"),
    [
        ({"mechanism": "hls-gmac", "security_policy": 0x6C}, "suite", "missing"),
        ({"mechanism": "hls-ecdsa", "suite": 0}, "suite", "needs suite 1"),
        (
            {"mechanism": "hls-gmac", "suite": 0, "security_policy": 0x6D},
            "security_policy",
            "unused",
        ),
        (
            {"mechanism": "hls-gmac", "suite": 0, "security_policy": 0x7C},
            "security_policy",
            "signing",
        ),
        ({"mechanism": "lls", "secret": "x", "suite": 0}, "suite", "only an HLS association"),
        ({"mechanism": "hls-gmac", "suite": 0, "secret": "x"}, "secret", "has no secret"),
    ],
)
def test_model_refusals_of_hls_associations(
    association: dict[str, object], named: str, message: str
) -> None:
    text = load_model("az3p").text
    entry = "\n".join(
        f"{k} = {v!r}".replace("'", '"')
        for k, v in {"name": "x", "client_sap": 99, "rights": "management", **association}.items()
    )
    head, tail = text.split("\n[[profiles]]", 1)
    with pytest.raises(SchemaError) as refused:
        model_from_text(f"{head}\n[[dlms.associations]]\n{entry}\n\n[[profiles]]{tail}", "x.toml")
    assert refused.value.path.endswith(named)
    assert message in refused.value.message


def test_a_state_saved_before_the_setups_existed_loads_with_new_ones() -> None:
    """A meter stored before issue 12 has no "dlms_security": its setups start as a new
    meter's (demo or configured keys, counters at 0), the rest of its state as it was."""
    meter, _ = _device()
    state = meter.to_state()
    del state["dlms_security"]
    restored = Meter.from_state(meter.spec, state)
    _, device = _device("pmm1220", restored)
    assert _material(device, HLS_SAP).global_unicast_key == GREEN_BOOK_EK
    assert device.next_invocation_counter(_policy(device, HLS_SAP)) == 1  # a new key starts at 1
    assert restored.to_state()["security"] == state["security"]


def test_a_flood_of_refused_apdus_never_pushes_a_key_change_out_of_the_full_log() -> None:
    """Refused APDUs need no key: spread over days (no coalescing) they fill the security
    log, yet the key change stays, the oldest refusal giving way (docs/events.md)."""
    meter, device = _device()
    policy = _policy(device, HLS_SAP)
    _act(device, HLS_SAP, 2, _transfer((0, RFC3394_WRAPPED)))
    book = meter.event_logs[SECURITY_LOG]
    for _ in range(book.depth + 20):
        meter.advance(meter.now_ms + 16 * 60_000)
        device.security_refused(policy, SecurityEvent.REPLAY)
    codes = [e.code for e in book.entries]
    assert len(codes) == book.depth
    assert codes[0] == EventCode.SECURITY_KEY_CHANGED
    assert set(codes[1:]) == {EventCode.REPLAY_REFUSED}
