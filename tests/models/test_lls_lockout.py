"""The LLS lockout (seed 002, 5.12: "disable the programming function if wrong verification
occurs for 3 consecutive times") per association, through the sans-IO DLMS server and the
logical device: a correct login of another association must not reset the count (issue 19,
item 4; docs/events.md)."""

from __future__ import annotations

from tests.helpers import utc_ms
from tests.models.test_communication_log import _aare, _drive

from metertwin.codec.enums import AcseServiceUserDiagnostic, AssociationResult
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.server.connection import ServerConnection
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.security import AccessSecurity, LoginOutcome
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device

UTILITY_SAP, READER_SAP = 1, 32


def test_reader_logins_between_wrong_utility_guesses_do_not_reset_its_count() -> None:
    """60 wrong utility secrets, each followed by a correct reader login and release: the
    third locks the utility association (its right secret is refused), the reader keeps
    logging in, and only the utility's failures are counted."""
    model = load_model("pmm1220")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "12345678")
    device = build_logical_device(model, meter, lambda: None)
    connection = ServerConnection(device, 1)
    secrets = model.spec.security.default_secrets
    reader = ClientAssociation(password=secrets["reader"])
    for _ in range(60):
        guess = ClientAssociation(password=b"guess").aarq().encode()
        assert _aare(connection.receive(UTILITY_SAP, guess)).result != AssociationResult.ACCEPTED
        _drive(connection, READER_SAP, reader.associate())
        _drive(connection, READER_SAP, reader.release())
    right = ClientAssociation(password=secrets["utility"]).aarq().encode()
    assert _aare(connection.receive(UTILITY_SAP, right)).result != AssociationResult.ACCEPTED
    assert meter.event_counts == {
        EventCode.AUTHENTICATION_FAILURE: 3,
        EventCode.WRONG_PASSWORDS: 1,
        EventCode.ASSOCIATION_LOCKED_OUT: 58,
    }


def test_a_lockout_locks_only_its_association_and_ends() -> None:
    meter = Meter(load_model("pmm1220").spec, utc_ms(2026, 6, 1, 8))
    secrets = meter.spec.security.default_secrets
    for _ in range(3):
        assert meter.login("utility", b"guess") is LoginOutcome.WRONG_SECRET
    assert meter.login("utility", secrets["utility"]) is LoginOutcome.LOCKED
    assert meter.login("reader", secrets["reader"]) is LoginOutcome.ACCEPTED
    meter.advance(meter.now_ms + 30 * 60_000)
    assert meter.login("utility", secrets["utility"]) is LoginOutcome.ACCEPTED


def test_a_state_saved_with_one_meter_wide_count_loads_it_for_every_association() -> None:
    """A memory written before per-association counts: its two failures apply to every
    association (the saved state does not say which one failed), and a reader's login no
    longer clears the utility's."""
    config = load_model("pmm1220").spec.security
    old = {
        "secrets": {name: secret.hex() for name, secret in config.default_secrets.items()},
        "consecutive_failures": 2,
        "locked_until_ms": None,
        "failures_total": 2,
        "lockouts_total": 0,
        "events": [[1_000, "utility", "wrong_secret"], [2_000, "utility", "wrong_secret"]],
    }
    security = AccessSecurity.from_state(config, old)
    assert security.check("reader", config.default_secrets["reader"], 3_000) is (
        LoginOutcome.ACCEPTED
    )
    assert security.check("utility", b"guess", 4_000) is LoginOutcome.WRONG_SECRET
    assert security.check("utility", config.default_secrets["utility"], 5_000) is (
        LoginOutcome.LOCKED
    )
    restored = AccessSecurity.from_state(config, security.to_state())
    assert restored.to_state() == security.to_state()


def test_a_lockout_is_refused_as_transient_whatever_the_secret() -> None:
    """The three wrong secrets are rejected-permanent (a wrong secret stays wrong); during the
    lock both the right and a wrong secret get rejected-transient, diagnostic 13 (Green Book
    association-result: rejected-transient means the same request may succeed later), so a
    head-end can say "locked" without learning whether its guess was right (issue 11, item 12)."""
    model = load_model("magno22")
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "12345678")
    connection = ServerConnection(build_logical_device(model, meter, lambda: None), 1)
    utility_sap = 48  # magno22's utility association (docs/dlms.md)
    for _ in range(3):
        guess = ClientAssociation(password=b"guess").aarq().encode()
        refused = _aare(connection.receive(utility_sap, guess))
        assert refused.result == AssociationResult.REJECTED_PERMANENT
        assert refused.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
    right = model.spec.security.default_secrets["utility"]
    for secret in (right, b"guess"):
        locked = _aare(
            connection.receive(utility_sap, ClientAssociation(password=secret).aarq().encode())
        )
        assert locked.result == AssociationResult.REJECTED_TRANSIENT
        assert locked.diagnostic == AcseServiceUserDiagnostic.AUTHENTICATION_FAILURE
    meter.advance(meter.now_ms + 30 * 60_000)
    again = _aare(
        connection.receive(utility_sap, ClientAssociation(password=right).aarq().encode())
    )
    assert again.result == AssociationResult.ACCEPTED
