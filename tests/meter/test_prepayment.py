"""Prepayment in the core: tokens in, credit out, the relay follows (issue 4 items 2, 4, 7 and
"Bad input")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import utc_ms
from tests.sts.sts_fixtures import ea11_key

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState, Transition
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import PhysicalState
from metertwin.meter.registers import Energy
from metertwin.meter.token_entry import TokenEntryConfig
from metertwin.meter.wallet import MICRO, FriendlyPeriods, WalletConfig
from metertwin.models import DeviceModel
from metertwin.sts import (
    BaseDate,
    ClearCredit,
    ClearTamperCondition,
    CreditKind,
    CreditToken,
    MeterKey,
    Rejection,
    SetMaximumPowerLimit,
    StsDecoder,
    Token,
    encode_key_change,
    encode_token,
    tid_from_datetime,
)

HOUR = 3_600_000
KEY = ea11_key(base_date=BaseDate.Y2014)
SECURITY, STANDARD, DISCONNECT = "0.0.99.98.5.255", "0.0.99.98.0.255", "0.0.99.98.2.255"
LOAD = PhysicalState((230.0,), (2300.0,), (0.0,))  # 2.3 kW


def _tid(minute: int) -> int:
    """Distinct TIDs in 2026 (minutes after 2026-01-01 on base 2014)."""
    return tid_from_datetime(datetime(2026, 1, 1, tzinfo=UTC), BaseDate.Y2014) + minute


def _credit(amount_tenths: int, minute: int, key: MeterKey = KEY) -> str:
    token = CreditToken(
        kind=CreditKind.ELECTRICITY_CURRENCY, tid=_tid(minute), amount_tenths=amount_tenths
    )
    return encode_token(token, key)


def _meter(model: DeviceModel, start: int, lockout_failures: int = 3, **wallet: object) -> Meter:
    """pmm1220 with a flat 0.20/kWh, no VAT, no friendly periods unless given."""
    changes: dict[str, object] = {
        "prices": (0, 200_000, 200_000, 200_000),
        "vat_ppm": 0,
        "friendly": FriendlyPeriods(),
        "low_credit_thresholds": (2 * MICRO,),
    }
    changes.update(wallet)
    config = dataclasses.replace(model.spec.wallet, **changes)  # type: ignore[arg-type]
    entry = TokenEntryConfig(lockout_failures=lockout_failures, lockout_s=60)
    spec = dataclasses.replace(model.spec, wallet=config, token_entry=entry)
    meter = Meter(spec, start)
    meter.install_sts(StsDecoder(KEY))
    return meter


def _events(meter: Meter, log: str) -> list[tuple[int, int]]:
    return [(r.meter_ms, int(r.values[1])) for r in meter.recorder.drain() if r.profile == log]


def test_a_token_adds_credit_and_the_relay_opens_at_zero_on_the_millisecond(
    pmm1220: DeviceModel,
) -> None:
    """2.3 kW at 0.20/kWh costs 0.46 an hour: 2.3 units of credit last exactly 5 hours."""
    start = utc_ms(2026, 6, 1, 9)  # Monday 12:00 local (UTC+3)
    meter = _meter(pmm1220, start)
    result = meter.enter_token(_credit(23, 0))
    assert result.accepted and result.message == "credit +2.30 SAR"
    assert meter.wallet is not None and meter.wallet.credit == 2_300_000
    meter.advance(start + 10 * HOUR, LOAD)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    cut = meter.disconnect.changes[-1]
    assert cut.transition is Transition.LOCAL_DISCONNECT and cut.at_true_ms == start + 5 * HOUR
    assert meter.wallet.credit == 0
    assert meter.energy_mwh(Energy.IMPORT_ACTIVE) == 11_500_000  # 5 h of 2.3 kW, no more
    events = _events(meter, STANDARD)
    assert (start + 5 * HOUR, EventCode.CREDIT_EXHAUSTED) in events
    # 0.30 of the 2.30 gone (2.0 left, the warning level) after 5.4e12 µJ / 2.3e6 µJ per ms
    low = [t for t, code in events if code == EventCode.LOW_CREDIT_1]
    assert low == [start + 2_347_827]
    # the next token closes the relay again
    assert meter.enter_token(_credit(10, 1)).accepted
    assert meter.disconnect.state is ControlState.CONNECTED
    assert meter.wallet.balance_check() == 0


def test_no_cut_in_friendly_hours_and_the_debt_is_recovered_first(pmm1220: DeviceModel) -> None:
    """Credit runs out at 18:00 local inside friendly hours 17:00-20:00: no cut; the relay
    opens at 20:00; the next purchase pays the 2 hours of overdraw (1.84) first."""
    start = utc_ms(2026, 6, 1, 12)  # 15:00 local
    meter = _meter(pmm1220, start, friendly=FriendlyPeriods(hours=((time(17), time(20)),)))
    assert meter.enter_token(_credit(14, 0)).accepted  # 1.40 lasts to 18:02 local
    meter.advance(start + 8 * HOUR, LOAD)
    wallet = meter.wallet
    assert wallet is not None
    cut = meter.disconnect.changes[-1]
    assert cut.at_true_ms == start + 5 * HOUR  # 20:00 local, the end of friendly hours
    overdraw = 1_400_000 - 5 * 460_000
    assert wallet.credit == overdraw
    assert meter.enter_token(_credit(20, 1)).accepted
    assert wallet.credit == 2_000_000 + overdraw
    assert meter.disconnect.state is ControlState.CONNECTED


def test_rejections_change_nothing_and_are_logged_then_the_keypad_locks(
    pmm1220: DeviceModel,
) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start, lockout_failures=5)
    good = _credit(50, 0)
    assert meter.enter_token(good).accepted
    before = meter.to_state()["prepayment"]
    other_meter = ea11_key(drn="00000000042", base_date=BaseDate.Y2014)
    cases = [
        ("1234", Rejection.FORMAT),
        ("1234567890123456789x", Rejection.FORMAT),
        (good, Rejection.USED),
        (_credit(50, 5, other_meter), Rejection.CRC),
    ]
    for digits, rejection in cases:
        result = meter.enter_token(digits)
        assert not result.accepted and result.rejection is rejection
    after = meter.to_state()["prepayment"]
    for part in ("wallet", "sts"):
        assert after[part] == before[part]
    # the 5th failure in a row locks the keypad for 60 s, even for a good token
    assert meter.enter_token("9" * 20).rejection is Rejection.FORMAT
    locked = meter.enter_token(_credit(10, 9))
    assert locked.locked and not locked.accepted
    meter.advance(meter.now_ms + 60_000)
    assert meter.enter_token(_credit(10, 9)).accepted
    security = [code for _, code in _events(meter, SECURITY)]
    assert security.count(EventCode.TOKEN_REJECTED) == 5
    assert security.count(EventCode.KEYPAD_LOCKED) == 1


def test_the_lockout_grows_with_each_lockout(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    lengths = []
    for _ in range(3):
        for _ in range(3):
            meter.enter_token("0" * 19)
        assert meter.keypad.locked_until_ms is not None
        lengths.append(meter.keypad.locked_until_ms - meter.meter_time_ms())
        meter.advance(meter.keypad.locked_until_ms)
    assert lengths == [60_000, 120_000, 240_000]


def test_overflow_is_refused_before_anything_changes(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start, max_credit=10 * MICRO)
    assert meter.enter_token(_credit(90, 0)).accepted
    result = meter.enter_token(_credit(20, 1))
    assert result.rejection is Rejection.OVERFLOW
    assert meter.wallet is not None and meter.wallet.credit == 9 * MICRO
    assert meter.enter_token(_credit(10, 1)).accepted  # not remembered: can come later


def test_management_tokens_act_on_the_meter(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    tokens: list[Token] = [
        SetMaximumPowerLimit(tid=_tid(1), maximum_power_w=3500),
        ClearTamperCondition(tid=_tid(2)),
        ClearCredit(tid=_tid(3), register=0xFFFF),
    ]
    assert meter.enter_token(_credit(100, 0)).accepted
    meter.tamper_latched = True
    for token in tokens:
        assert meter.enter_token(encode_token(token, KEY)).accepted
    assert meter.power_limit_w == 3500
    assert not meter.tamper_latched
    assert meter.wallet is not None and meter.wallet.credit == 0
    assert meter.wallet.balance_check() == 0


def test_key_change_installs_the_new_key_and_old_key_tokens_fail(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    new_key = dataclasses.replace(KEY, krn=2, decoder_key=bytes(range(16)))
    sections = encode_key_change(KEY, new_key)  # 128-bit key: four sections, any order
    for index in (3, 1, 0):
        held = meter.enter_token(sections[index])
        assert held.accepted and "waiting" in held.message
    assert meter.enter_token(sections[2]).message == "new key installed"
    assert meter.sts is not None and meter.sts.key.krn == 2
    assert meter.enter_token(_credit(10, 5)).rejection is Rejection.CRC
    assert meter.enter_token(_credit(10, 5, new_key)).accepted
    restored = StsDecoder.from_state(meter.sts.to_state(), ea07_tables=None)
    assert restored.key.decoder_key == bytes(range(16))


def test_a_credit_token_of_the_wrong_kind_is_refused(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    kwh = encode_token(CreditToken(kind=CreditKind.ELECTRICITY, tid=_tid(0), amount_tenths=10), KEY)
    assert meter.enter_token(kwh).rejection is Rejection.FUNCTION


def test_prepayment_state_survives_a_restart(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    token = _credit(23, 0)
    meter.enter_token(token)
    meter.advance(start + 6 * HOUR, LOAD)
    copy = Meter.from_state(meter.spec, meter.to_state())
    assert copy.saved_sts_state is not None
    copy.install_sts(StsDecoder.from_state(copy.saved_sts_state, ea07_tables=None))
    assert copy.to_state() == meter.to_state()
    assert copy.enter_token(token).rejection is Rejection.USED
    assert copy.credit_cut and copy.disconnect.state is ControlState.READY_FOR_RECONNECTION


def test_the_customer_cannot_reconnect_without_credit(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start)
    meter.enter_token(_credit(5, 0))
    meter.advance(start + 3 * HOUR, LOAD)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.operate_relay(Transition.MANUAL_RECONNECT)  # the button: the meter opens again
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    assert [code for _, code in _events(meter, DISCONNECT)][-2:] == [
        EventCode.MANUAL_CONNECTION,
        EventCode.LOCAL_DISCONNECTION,
    ]


def test_emergency_credit_on_request_reconnects_and_is_repaid(pmm1220: DeviceModel) -> None:
    start = utc_ms(2026, 6, 1, 9)
    meter = _meter(pmm1220, start, emergency_credit=MICRO)
    meter.enter_token(_credit(5, 0))
    meter.advance(start + 2 * HOUR, LOAD)
    assert meter.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.take_emergency_credit()
    assert meter.disconnect.state is ControlState.CONNECTED
    meter.advance(start + 3 * HOUR, LOAD)  # 0.46 of the 1.00 used
    wallet = meter.wallet
    assert wallet is not None and wallet.emergency_owed == 460_000
    meter.enter_token(_credit(10, 1))
    assert wallet.credit == MICRO - 460_000 and not wallet.emergency_in_use


def test_wallet_config_without_prepayment_has_no_wallet(az3p: DeviceModel) -> None:
    spec = dataclasses.replace(az3p.spec, wallet=None)
    meter = Meter(spec, utc_ms(2026, 6, 1))
    meter.install_sts(StsDecoder(KEY))
    result = meter.enter_token(_credit(10, 0))
    assert result.rejection is Rejection.FUNCTION


def test_energy_wallet_of_az3p(az3p: DeviceModel) -> None:
    assert az3p.spec.wallet is not None
    config = dataclasses.replace(az3p.spec.wallet, friendly=FriendlyPeriods())
    meter = Meter(dataclasses.replace(az3p.spec, wallet=config), utc_ms(2026, 6, 1, 8))
    meter.install_sts(StsDecoder(KEY))
    token = CreditToken(kind=CreditKind.ELECTRICITY, tid=_tid(0), amount_tenths=30)
    assert meter.enter_token(encode_token(token, KEY)).message == "credit +3.00 kWh"
    three_phase = PhysicalState((220.0,) * 3, (1000.0,) * 3, (0.0,) * 3)
    meter.advance(meter.now_ms + 2 * HOUR, three_phase)
    assert meter.disconnect.changes[-1].at_true_ms == utc_ms(2026, 6, 1, 9)
    assert isinstance(config, WalletConfig)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[0-9 ]{18,24}", fullmatch=True))
def test_any_text_gets_a_refusal_never_a_crash(text: str) -> None:
    """Fuzz: whatever comes from a keypad or a head-end, the meter answers and keeps its credit
    unless the token is accepted."""
    meter = _FUZZ_METER
    before = meter.wallet.credit if meter.wallet is not None else 0
    result = meter.enter_token(text)
    assert isinstance(result.message, str) and len(result.digits) <= 64
    if not result.accepted:
        assert meter.wallet is not None and meter.wallet.credit == before


def _fuzz_meter() -> Meter:
    from metertwin.models import load_model

    meter = _meter(load_model("pmm1220"), utc_ms(2026, 6, 1, 9), lockout_failures=100)
    meter.keypad = type(meter.keypad)(TokenEntryConfig(lockout_failures=10**9))
    return meter


_FUZZ_METER = _fuzz_meter()
