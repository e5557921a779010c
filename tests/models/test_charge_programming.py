"""Issue 20 items 4, 6 and 7 over DLMS: Magno 22's charge tables (class 113) programmed by a
head-end, its tariff expense set as Charge objects and its second wallet (class 112).

Each change goes through the logical device of a meter in its SQLite memory, as `metertwin
run` serves it (SET/ACTION -> `Session.commit` before the answer), is read back, seen in the
credit the wallet takes, and read again after the memory is reopened. Invalid values get the
refusals docs/prepayment.md names and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.helpers import stored_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, MethodDescriptor
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.wallet import MICRO, Wallet
from metertwin.models import load_model
from metertwin.runtime.session import Session
from metertwin.schema import SchemaError

T0 = utc_ms(2026, 6, 1, 9)  # a Monday, 10:00 local (BST): Magno 22's rate 2
HOUR = 3_600_000
ENERGY = Obis(0, 0, 19, 20, 0)  # consumption charge by TOU rate
STEPS = Obis(0, 0, 19, 20, 2)
SUBSIDY = Obis(0, 0, 19, 20, 5)
SECOND = Obis(0, 0, 19, 10, 2)
TOKEN = Obis(0, 0, 19, 10, 0)
PURCHASES = Obis(0, 0, 96, 128, 0)
PAID_BY_SECOND = Obis(0, 0, 96, 128, 5)
BILLING_PROFILE = Obis(1, 0, 98, 1, 0)
SECURITY_LOG = "0.0.99.98.5.255"
KILOWATT = PhysicalState((230.0,), (1000.0,), (0.0,))


def _table(commodity_scale: int, price_scale: int, index_octets: int, *entries: int) -> Data:
    """A unit_charge: ``entries`` are index, charge_per_unit pairs."""
    pairs = zip(entries[::2], entries[1::2], strict=True)
    return Data.structure(
        [
            Data.structure([Data.integer(commodity_scale), Data.integer(price_scale)]),
            Data.structure(
                [
                    Data.long_unsigned(3),
                    Data.octet_string(bytes(Obis(1, 0, 1, 8, 0))),
                    Data.integer(2),
                ]
            ),
            Data.array(
                [
                    Data.structure(
                        [Data.octet_string(i.to_bytes(index_octets, "big")), Data.long(v)]
                    )
                    for i, v in pairs
                ]
            ),
        ]
    )


NEW_PRICES = _table(3, -3, 1, 1, 300, 2, 500, 3, 600, 4, 200)  # 0.50 at rate 2
NO_SUBSIDY = Data.structure(
    [
        Data.structure([Data.integer(0), Data.integer(-2)]),
        Data.structure(
            [Data.long_unsigned(8), Data.octet_string(bytes(Obis(0, 0, 1, 0, 0))), Data.integer(2)]
        ),
        Data.array([]),
    ]
)


@dataclass
class Served:
    directory: Path
    session: Session
    device: LogicalDevice
    context: AssociationContext

    @property
    def wallet(self) -> Wallet:
        wallet = self.session.meter.wallet
        assert wallet is not None
        return wallet

    def get(self, class_id: int, obis: Obis, attribute: int) -> Data:
        return self.device.get(self.context, AttributeDescriptor(class_id, obis, attribute), None)

    def set(self, class_id: int, obis: Obis, attribute: int, value: Data) -> None:
        self.device.set(self.context, AttributeDescriptor(class_id, obis, attribute), None, value)

    def act(self, class_id: int, obis: Obis, method: int, parameters: Data | None) -> None:
        self.device.action(self.context, MethodDescriptor(class_id, obis, method), parameters)

    def refused(self, call: object, *args: object) -> DataAccessResult:
        with pytest.raises(CosemError) as caught:
            call(*args)  # type: ignore[operator]
        return caught.value.result

    def advance(self, to_ms: int) -> None:
        self.session.advance_to(to_ms, lambda s, e: InputSeries.constant(s, e, KILOWATT))

    def parameter_changes(self) -> int:
        store = self.session.store
        entries = store.profile_entries(SECURITY_LOG, 1, store.profile_count(SECURITY_LOG))
        return sum(1 for e in entries if int(e.values[1]) == EventCode.PARAMETER_CHANGED)


def _open(directory: Path, model: str | None, client_sap: int = 1) -> Served:
    return Served(directory, *stored_device(directory, model, client_sap, T0))


@pytest.fixture
def magno(tmp_path: Path) -> Iterator[Served]:
    """A new Magno 22, credit 100 EUR, its subsidies programmed away (so that prices show)."""
    served = _open(tmp_path / "magno22", "magno22")
    served.act(112, TOKEN, 1, Data.double_long(100_000))
    served.set(113, SUBSIDY, 6, NO_SUBSIDY)
    served.act(113, SUBSIDY, 2, Data.integer(0))
    yield served
    served.session.close()


def _restart(served: Served) -> None:
    """Close the memory and open it again (a restart), in place."""
    served.session.close()
    again = _open(served.directory, None)
    served.session, served.device, served.context = again.session, again.device, again.context


def _cost_of_an_hour(served: Served, start: int) -> int:
    before = served.wallet.energy_cost_total
    served.advance(start + HOUR)
    return served.wallet.energy_cost_total - before


# Magno 22's expense set (its model file): 20 % VAT on energy; levies 2 % of the energy charge
# and 0.005 per kWh with 5 % VAT; the first step band adds nothing.
OLD_KWH = 280_000 * 1_200_000 // MICRO + (5_600 + 5_000) * 1_050_000 // MICRO  # 0.34713
NEW_KWH = 500_000 * 1_200_000 // MICRO + (10_000 + 5_000) * 1_050_000 // MICRO  # 0.61575


def test_a_written_passive_table_waits_for_its_activation_and_survives_a_restart(
    magno: Served,
) -> None:
    active_before = magno.get(113, ENERGY, 5)
    changes = magno.parameter_changes()
    magno.set(113, ENERGY, 6, NEW_PRICES)
    assert magno.get(113, ENERGY, 6) == NEW_PRICES
    assert magno.get(113, ENERGY, 5) == active_before
    assert magno.parameter_changes() == changes + 1
    magno.set(113, ENERGY, 6, NEW_PRICES)  # the same again: nothing changes, nothing logged
    assert magno.parameter_changes() == changes + 1
    assert _cost_of_an_hour(magno, T0) == OLD_KWH
    _restart(magno)
    assert magno.get(113, ENERGY, 6) == NEW_PRICES
    magno.act(113, ENERGY, 2, Data.integer(0))
    assert magno.get(113, ENERGY, 5) == NEW_PRICES
    assert magno.parameter_changes() == changes + 2
    assert _cost_of_an_hour(magno, T0 + HOUR) == NEW_KWH
    _restart(magno)
    assert magno.get(113, ENERGY, 5) == NEW_PRICES


def test_a_passive_table_becomes_active_at_its_activation_time_across_a_restart(
    magno: Served,
) -> None:
    magno.set(113, ENERGY, 6, NEW_PRICES)
    at = CosemDateTime.from_datetime(datetime(2026, 6, 1, 10, 30, tzinfo=UTC)).to_bytes()
    magno.set(113, ENERGY, 7, Data.octet_string(at))
    assert magno.get(113, ENERGY, 7) == Data.octet_string(at)
    _restart(magno)
    magno.advance(T0 + HOUR)  # 09:00-10:00 UTC at the old prices
    changes = magno.parameter_changes()
    before = magno.wallet.energy_cost_total
    magno.advance(T0 + 2 * HOUR)  # half an hour at the old prices, half at the new
    assert magno.wallet.energy_cost_total - before == (OLD_KWH + NEW_KWH) // 2
    assert magno.get(113, ENERGY, 5) == NEW_PRICES
    assert magno.get(113, ENERGY, 7) == Data.octet_string(CosemDateTime().to_bytes())
    assert magno.parameter_changes() == changes + 1  # the activation itself


def test_a_band_table_written_by_update_unit_charge(magno: Served) -> None:
    """Steps by monthly consumption band (index: Wh from, 4 octets): from 1 kWh on, 0.10
    more per kWh (with 20 % VAT and the 2 % levy on it, 5 % VAT)."""
    bands = _table(3, -3, 4, 0, 0, 1000, 100)
    magno.act(113, STEPS, 1, bands)
    assert magno.get(113, STEPS, 6) == bands
    magno.act(113, STEPS, 2, Data.integer(0))
    assert magno.get(113, STEPS, 5) == bands
    extra = 100_000 * 1_200_000 // MICRO + 2_000 * 1_050_000 // MICRO
    assert _cost_of_an_hour(magno, T0) == OLD_KWH  # the first kWh of the month
    assert _cost_of_an_hour(magno, T0 + HOUR) == OLD_KWH + extra


@pytest.mark.parametrize(
    ("obis", "value", "result"),
    [
        (ENERGY, _table(3, -2, 1, 1, 300), DataAccessResult.TYPE_UNMATCHED),  # scaling
        (ENERGY, _table(3, -3, 2, 1, 300), DataAccessResult.TYPE_UNMATCHED),  # index width
        (ENERGY, _table(3, -3, 1, 1, 300, 1, 400), DataAccessResult.OTHER_REASON),  # twice
        (ENERGY, _table(3, -3, 1, 0, 300), DataAccessResult.OTHER_REASON),  # rate 0
        (ENERGY, _table(3, -3, 1, 1, -5), DataAccessResult.OTHER_REASON),  # negative
        (ENERGY, Data.long(5), DataAccessResult.TYPE_UNMATCHED),
        (
            STEPS,
            _table(3, -3, 4, *[v for k in range(11) for v in (k * 1000, 1)]),
            DataAccessResult.OTHER_REASON,
        ),  # 11 steps (seed 003: up to 10)
        (STEPS, _table(3, -3, 4, 2000, 1, 1000, 1), DataAccessResult.OTHER_REASON),
    ],
)
def test_invalid_tables_are_refused_and_change_nothing(
    magno: Served, obis: Obis, value: Data, result: DataAccessResult
) -> None:
    passive = magno.get(113, obis, 6)
    changes = magno.parameter_changes()
    assert magno.refused(magno.set, 113, obis, 6, value) is result
    assert magno.refused(magno.act, 113, obis, 1, value) is result
    assert magno.get(113, obis, 6) == passive
    assert magno.parameter_changes() == changes


def test_an_activation_time_that_is_not_a_date_time_is_refused(magno: Served) -> None:
    assert magno.refused(magno.set, 113, ENERGY, 7, Data.octet_string(b"\x07")) is (
        DataAccessResult.TYPE_UNMATCHED
    )
    assert magno.wallet.activation_ms == {}


@pytest.mark.parametrize(
    ("model", "client_sap"),
    [("magno22", 32), ("az3p", 1)],  # the reader association; an energy wallet (no prices)
)
def test_who_may_not_program_a_charge(tmp_path: Path, model: str, client_sap: int) -> None:
    served = _open(tmp_path / model, model, client_sap)
    try:
        assert served.refused(served.set, 113, ENERGY, 6, NEW_PRICES) is (
            DataAccessResult.READ_WRITE_DENIED
        )
    finally:
        served.session.close()


def test_every_expense_table_of_the_model_is_a_charge_object(magno: Served) -> None:
    """Seed 003 "Tariff Expense": steps, service charge, subsidies, fixed charges, levies and
    VAT kinds, each a class 113 object whose active table holds the model file's entries."""
    counts = {
        Obis(0, 0, 19, 20, 0): 4,  # prices by rate 1-4
        Obis(0, 0, 19, 20, 1): 1,  # standing charge
        Obis(0, 0, 19, 20, 2): 10,  # steps
        Obis(0, 0, 19, 20, 3): 5,  # service charge bands
        Obis(0, 0, 19, 20, 4): 3,  # fixed charges
        Obis(0, 0, 19, 20, 6): 2,  # levies
        Obis(0, 0, 19, 20, 7): 3,  # VAT on energy, charges, levies
    }
    for obis, count in counts.items():
        assert len(magno.get(113, obis, 5).as_items()[2].as_items()) == count, obis
    vat = magno.get(113, Obis(0, 0, 19, 20, 7), 5).as_items()[2].as_items()
    assert [e.as_items()[1] for e in vat] == [
        Data.long(20_000),
        Data.long(20_000),
        Data.long(5_000),
    ]


# -- the second wallet --------------------------------------------------------------------------


def test_the_second_wallet_pays_consumption_first_and_is_recorded(magno: Served) -> None:
    magno.act(112, SECOND, 1, Data.double_long(200))  # 0.200 EUR, remotely
    assert magno.get(112, SECOND, 2) == Data.double_long(200)
    assert magno.get(112, SECOND, 4) == Data.unsigned(1)  # spent first
    assert magno.get(112, TOKEN, 4) == Data.unsigned(2)
    token_before = magno.wallet.credit
    magno.advance(T0 + HOUR)  # 0.34713: 0.200 from the second wallet, the rest from tokens
    assert magno.get(112, SECOND, 2) == Data.double_long(0)
    assert token_before - magno.wallet.credit == OLD_KWH - 200_000
    assert magno.get(3, PAID_BY_SECOND, 2) == Data.double_long(200)
    records = magno.get(1, PURCHASES, 2).as_items()
    assert [r.as_items()[2] for r in records] == [Data.unsigned(2), Data.unsigned(1)]
    _restart(magno)
    assert magno.get(3, PAID_BY_SECOND, 2) == Data.double_long(200)
    assert magno.wallet.balance_check() == 0


def test_a_single_wallet_meter_has_no_second_credit(tmp_path: Path) -> None:
    served = _open(tmp_path / "p", "pmm1220")
    try:
        assert served.refused(served.get, 112, SECOND, 2) is DataAccessResult.OBJECT_UNDEFINED
    finally:
        served.session.close()


def test_the_billing_profile_records_what_each_wallet_paid(magno: Served) -> None:
    """Issue 20 item 7: the billing entry's cost (after subsidies) and, before it, what the
    token wallet and the second wallet paid of it."""
    magno.act(112, SECOND, 1, Data.double_long(200))
    magno.advance(T0 + HOUR)
    magno.act(9, Obis(0, 0, 10, 0, 1), 1, Data.long_unsigned(1))  # the billing reset
    columns = [c.as_items()[1].as_bytes() for c in magno.get(7, BILLING_PROFILE, 3).as_items()]
    paid_token = columns.index(bytes(Obis(0, 0, 96, 128, 4)))
    paid_second = columns.index(bytes(PAID_BY_SECOND))
    cost = columns.index(bytes(Obis(0, 0, 96, 128, 3)))
    entry = magno.get(7, BILLING_PROFILE, 2).as_items()[-1].as_items()
    assert entry[paid_second] == Data.double_long(200)
    assert entry[paid_token].as_int() + 200 in range(
        entry[cost].as_int(), entry[cost].as_int() + 2
    )  # each column floored to 0.001 EUR
    assert magno.get(3, PAID_BY_SECOND, 2) == Data.double_long(0)  # a new period


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("[2000, 0.20]]", "[2000, 0.20], [2500, 0.25]]", r"prepayment\.steps: expected up to 10"),
        ("[800, 8.00]]", "[800, 8.00], [900, 9.0]]", r"service_charge_steps: expected up to 5"),
        ('kind = "units"', 'kind = "coupons"', r"subsidies\[0\]\.kind"),
        ('kind = "percent", value = 2.0', 'kind = "percent", value = 200.0', "above 100 %"),
        ("priority = 1", "priority = 3", r"second_wallet\.priority"),
        (
            '"cost:1", "cost:2",',
            '"cost:1", "cost:2", "cost:3",',
            r"channels\[23\]: .*cost\[:1\|2\]",
        ),
        ("[prepayment.second_wallet]", "[prepayment.third_wallet]", "third_wallet"),
    ],
)
def test_expense_set_mistakes_in_the_model_file_are_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = load_model("magno22").text
    assert text.count(old) == 1
    path = tmp_path / "m.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(SchemaError, match=expected):
        load_model(str(path))


def test_cost_of_the_second_wallet_needs_one(tmp_path: Path) -> None:
    text = load_model("pmm1220").text
    path = tmp_path / "p.toml"
    path.write_text(text.replace('"cost"]', '"cost:2", "cost"]'))
    with pytest.raises(SchemaError, match=r"cost:2 needs \[prepayment\.second_wallet\]"):
        load_model(str(path))


def test_a_total_amount_remaining_and_a_collection_survive_a_restart(magno: Served) -> None:
    """Class 113 methods 3 and 5 (issue 20 item 4; docs/prepayment.md "Collections"): the
    remaining amount set, the standing charge collected (0.15 + 20 % VAT), both logged and
    committed; a restarted meter reads the same attributes 10-12."""
    standing = Obis(0, 0, 19, 20, 1)
    changes = magno.parameter_changes()
    magno.act(113, standing, 5, Data.double_long(2_000))
    magno.act(113, standing, 5, Data.double_long(2_000))  # the same: nothing logged
    assert magno.parameter_changes() == changes + 1
    credit = magno.wallet.credit
    magno.act(113, standing, 3, Data.integer(0))
    assert credit - magno.wallet.credit == 180_000  # no subsidy left: the token wallet pays
    seen = [magno.get(113, standing, a) for a in (10, 11, 12)]
    assert seen[1:] == [Data.double_long(180), Data.double_long(1_820)]
    _restart(magno)
    assert [magno.get(113, standing, a) for a in (10, 11, 12)] == seen
    assert magno.wallet.balance_check() == 0
