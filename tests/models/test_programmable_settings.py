"""Issue 20 items 1-3: load profiles, demand, export enable and absolute mode programmed by a
head-end over DLMS.

Each setting is written through the logical device of a meter in its SQLite memory, as
`metertwin run` serves it (SET -> `Session.commit` before the answer), read back, seen acting
in the next period of the injected clock, and read again after the memory is reopened.
Invalid values get the refusals docs/dlms.md names ("Programmable load profiles, demand and
metering mode") and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.helpers import stored_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor, SelectiveAccess
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.device import LogicalDevice
from metertwin.cosem.errors import CosemError
from metertwin.meter.events import EventCode
from metertwin.meter.inputs import InputSeries, PhysicalState
from metertwin.meter.registers import Energy
from metertwin.runtime.session import Session

T0 = utc_ms(2026, 6, 1, 9)  # a Monday, 09:00 UTC
MINUTE = 60_000
LOAD_PROFILE = Obis(1, 0, 99, 1, 0)
PROFILE_2 = Obis(1, 0, 99, 2, 0)
SECURITY_LOG = "0.0.99.98.5.255"
DEMAND = Obis(1, 0, 1, 4, 0)  # +A demand register
DEMAND_PERIOD = Obis(1, 0, 0, 8, 0)
CAPTURE_PERIOD_1 = Obis(1, 0, 0, 8, 4)
CAPTURE_PERIOD_2 = Obis(1, 0, 0, 8, 5)
CLOCK = Obis(0, 0, 1, 0, 0)
KILOWATT = PhysicalState((230.0,), (1000.0,), (0.0,))


def _definition(class_id: int, obis: Obis, attribute: int, data_index: int = 0) -> Data:
    return Data.structure(
        [
            Data.long_unsigned(class_id),
            Data.octet_string(bytes(obis)),
            Data.integer(attribute),
            Data.long_unsigned(data_index),
        ]
    )


CLOCK_COLUMN = _definition(8, CLOCK, 2)
IMPORT_COLUMN = _definition(3, Obis(1, 0, 1, 8, 0), 2)
VOLTAGE_COLUMN = _definition(3, Obis(1, 0, 32, 7, 0), 2)


@dataclass
class Served:
    """A meter in its memory and its logical device with a management association."""

    directory: Path
    session: Session
    device: LogicalDevice
    context: AssociationContext

    def get(self, class_id: int, obis: Obis, attribute: int) -> Data:
        return self.device.get(self.context, AttributeDescriptor(class_id, obis, attribute), None)

    def set(self, class_id: int, obis: Obis, attribute: int, value: Data) -> None:
        self.device.set(self.context, AttributeDescriptor(class_id, obis, attribute), None, value)

    def refusal(self, class_id: int, obis: Obis, attribute: int, value: Data) -> DataAccessResult:
        with pytest.raises(CosemError) as caught:
            self.set(class_id, obis, attribute, value)
        return caught.value.result

    def advance(self, to_ms: int, state: PhysicalState = KILOWATT) -> None:
        self.session.advance_to(to_ms, lambda start, end: InputSeries.constant(start, end, state))

    def buffer(self, obis: Obis = LOAD_PROFILE) -> list[tuple[Data, ...]]:
        return [row.as_items() for row in self.get(7, obis, 2).as_items()]

    def parameter_changes(self) -> int:
        store = self.session.store
        entries = store.profile_entries(SECURITY_LOG, 1, store.profile_count(SECURITY_LOG))
        return sum(1 for e in entries if int(e.values[1]) == EventCode.PARAMETER_CHANGED)


def _serve(directory: Path, model: str | None, client_sap: int) -> Served:
    return Served(directory, *stored_device(directory, model, client_sap, T0))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str], Served]]:
    """``serve(model)`` a new meter (client 1: its management association);
    ``serve.reopen(served)`` closes its memory and opens it again (a restart)."""
    opened: list[Served] = []

    def start(model: str) -> Served:
        served = _serve(tmp_path / model, model, 1)
        opened.append(served)
        return served

    yield start
    for served in opened:
        served.session.close()


def _restart(served: Served) -> Served:
    served.session.close()
    again = _serve(served.directory, None, 1)
    served.session, served.device, served.context = again.session, again.device, again.context
    return served


# -- load profiles ----------------------------------------------------------------------------


def test_a_new_capture_period_acts_from_its_next_instant_and_survives_a_restart(
    serve: Callable[[str], Served],
) -> None:
    served = serve("pmm1220")
    served.advance(T0 + 31 * MINUTE)  # entries at 09:15, 09:30
    assert len(served.buffer()) == 2
    served.set(7, LOAD_PROFILE, 4, Data.double_long_unsigned(300))
    assert served.get(7, LOAD_PROFILE, 4) == Data.double_long_unsigned(300)
    # A new period keeps the entries (docs/dlms.md); capture continues on the 5-minute grid.
    assert served.get(7, LOAD_PROFILE, 7) == Data.double_long_unsigned(2)
    assert served.parameter_changes() == 1
    served.advance(T0 + 45 * MINUTE)  # 09:35, 09:40, 09:45
    assert len(served.buffer()) == 5
    served = _restart(served)
    assert served.get(7, LOAD_PROFILE, 4) == Data.double_long_unsigned(300)
    served.advance(T0 + 55 * MINUTE)  # 09:50, 09:55
    assert served.get(7, LOAD_PROFILE, 7) == Data.double_long_unsigned(7)


def test_new_capture_objects_empty_the_buffer_and_are_captured_from_the_next_period(
    serve: Callable[[str], Served],
) -> None:
    served = serve("pmm1220")
    served.advance(T0 + 16 * MINUTE)
    assert len(served.buffer()) == 1 and len(served.buffer()[0]) == 8
    channels = Data.array([CLOCK_COLUMN, IMPORT_COLUMN, VOLTAGE_COLUMN])
    served.set(7, LOAD_PROFILE, 3, channels)
    assert served.get(7, LOAD_PROFILE, 3) == channels
    assert served.get(7, LOAD_PROFILE, 7) == Data.double_long_unsigned(0)  # Blue Book: cleared
    assert served.parameter_changes() == 1
    served.advance(T0 + 30 * MINUTE)  # the next capture, 09:30
    (row,) = served.buffer()
    assert len(row) == 3
    # 1 kW since 09:00: 500 Wh at 09:30; 230.0 V read in 0.1 V.
    assert row[1] == Data.double_long_unsigned(500)
    assert row[2] == Data.long_unsigned(2300)
    served = _restart(served)
    assert served.get(7, LOAD_PROFILE, 3) == channels
    served.advance(T0 + 45 * MINUTE)
    rows = served.buffer()
    assert [r[1] for r in rows] == [Data.double_long_unsigned(500), Data.double_long_unsigned(750)]


def test_the_same_channels_written_again_change_nothing(serve: Callable[[str], Served]) -> None:
    served = serve("pmm1220")
    served.advance(T0 + 16 * MINUTE)
    served.set(7, LOAD_PROFILE, 3, served.get(7, LOAD_PROFILE, 3))
    assert served.get(7, LOAD_PROFILE, 7) == Data.double_long_unsigned(1)
    assert served.parameter_changes() == 0


@pytest.mark.parametrize(
    ("attribute", "value", "result"),
    [
        # capture_objects
        (3, Data.array([_definition(3, Obis(1, 0, 1, 8, 99), 2)]), "OBJECT_UNDEFINED"),
        (3, Data.array([_definition(8, CLOCK, 12)]), "OBJECT_UNDEFINED"),  # clock has 9
        (3, Data.array([_definition(3, Obis(1, 0, 1, 8, 0), 2, 1)]), "OTHER_REASON"),
        (3, Data.array([_definition(8, CLOCK, 3)]), "OTHER_REASON"),  # time zone: not sampled
        # the association's LLS secret: write-only, never captured
        (3, Data.array([_definition(15, Obis(0, 0, 40, 0, 0), 7)]), "OTHER_REASON"),
        (3, Data.array([IMPORT_COLUMN] * 61), "OTHER_REASON"),  # seed 003: up to 60
        (3, Data.array([]), "OTHER_REASON"),
        (3, IMPORT_COLUMN, "TYPE_UNMATCHED"),  # not an array
        (3, Data.array([Data.long_unsigned(3)]), "TYPE_UNMATCHED"),
        # capture_period
        (4, Data.double_long_unsigned(0), "OTHER_REASON"),
        (4, Data.double_long_unsigned(90), "OTHER_REASON"),  # whole minutes
        (4, Data.double_long_unsigned(420), "OTHER_REASON"),  # 7 min does not divide the hour
        (4, Data.double_long_unsigned(7200), "OTHER_REASON"),
        (4, Data.long_unsigned(300), "TYPE_UNMATCHED"),
    ],
)
def test_invalid_profile_settings_are_refused_and_change_nothing(
    serve: Callable[[str], Served], attribute: int, value: Data, result: str
) -> None:
    served = serve("pmm1220")
    served.advance(T0 + 16 * MINUTE)
    before = served.get(7, LOAD_PROFILE, 3), served.get(7, LOAD_PROFILE, 4)
    assert served.refusal(7, LOAD_PROFILE, attribute, value) is DataAccessResult[result]
    assert (served.get(7, LOAD_PROFILE, 3), served.get(7, LOAD_PROFILE, 4)) == before
    assert served.get(7, LOAD_PROFILE, 7) == Data.double_long_unsigned(1)
    assert served.parameter_changes() == 0


def test_sixty_channels_are_taken(serve: Callable[[str], Served]) -> None:
    """Magno 22 (seed 003): up to 60 channels."""
    served = serve("magno22")
    served.set(7, LOAD_PROFILE, 3, Data.array([CLOCK_COLUMN] + [IMPORT_COLUMN] * 59))
    served.advance(T0 + 15 * MINUTE)
    assert len(served.buffer()[0]) == 60


def test_billing_and_event_profiles_are_not_programmable(serve: Callable[[str], Served]) -> None:
    served = serve("pmm1220")
    for profile in (Obis(1, 0, 98, 1, 0), Obis(0, 0, 99, 98, 5)):
        refused = served.refusal(7, profile, 4, Data.double_long_unsigned(900))
        assert refused is DataAccessResult.READ_WRITE_DENIED


def test_the_reader_may_not_program_a_profile(serve: Callable[[str], Served]) -> None:
    served = serve("pmm1220")
    policy = served.device.association_policy(32)
    assert policy is not None
    served.context = AssociationContext(policy, 32, 1, policy.conformance, 1024, 1024, True)
    refused = served.refusal(7, LOAD_PROFILE, 4, Data.double_long_unsigned(300))
    assert refused is DataAccessResult.READ_WRITE_DENIED


def test_metercom_capture_period_objects_are_the_profiles_capture_periods(
    serve: Callable[[str], Served],
) -> None:
    served = serve("metercom-pro")
    served.set(1, CAPTURE_PERIOD_1, 2, Data.double_long_unsigned(300))
    assert served.get(7, LOAD_PROFILE, 4) == Data.double_long_unsigned(300)
    served.set(7, PROFILE_2, 4, Data.double_long_unsigned(1800))
    assert served.get(1, CAPTURE_PERIOD_2, 2) == Data.double_long_unsigned(1800)
    refused = served.refusal(1, CAPTURE_PERIOD_1, 2, Data.double_long_unsigned(86_400))
    assert refused is DataAccessResult.OTHER_REASON
    served.advance(T0 + 30 * MINUTE, PhysicalState((230.0,) * 3, (1000.0,) * 3, (0.0,) * 3))
    assert len(served.buffer(LOAD_PROFILE)) == 6 and len(served.buffer(PROFILE_2)) == 1
    served = _restart(served)
    assert served.get(1, CAPTURE_PERIOD_1, 2) == Data.double_long_unsigned(300)
    assert served.get(1, CAPTURE_PERIOD_2, 2) == Data.double_long_unsigned(1800)


def test_selective_access_reads_the_programmed_columns(serve: Callable[[str], Served]) -> None:
    served = serve("pmm1220")
    served.set(7, LOAD_PROFILE, 3, Data.array([CLOCK_COLUMN, IMPORT_COLUMN]))
    served.advance(T0 + 30 * MINUTE)
    entries = Data.structure(
        [
            Data.double_long_unsigned(2),
            Data.double_long_unsigned(0),
            Data.long_unsigned(2),
            Data.long_unsigned(0),
        ]
    )
    read = served.device.get(
        served.context, AttributeDescriptor(7, LOAD_PROFILE, 2), SelectiveAccess(2, entries)
    )
    assert [row.as_items() for row in read.as_items()] == [(Data.double_long_unsigned(500),)]


# -- demand -----------------------------------------------------------------------------------


def _demand(served: Served) -> tuple[int, int]:
    period = served.get(5, DEMAND, 8).as_int()
    return period, served.get(5, DEMAND, 9).as_int()


def test_a_new_demand_period_restarts_cleanly_at_its_next_boundary(
    serve: Callable[[str], Served],
) -> None:
    served = serve("pmm1220")
    served.advance(T0 + 15 * MINUTE)
    assert served.get(5, DEMAND, 3) == Data.double_long_unsigned(1000)  # 1 kW, block 15
    assert served.session.meter.demand.maximum[Energy.IMPORT_ACTIVE][0].value_mw == 1_000_000
    served.advance(T0 + 17 * MINUTE)
    served.set(5, DEMAND, 8, Data.double_long_unsigned(600))  # block 10 minutes
    assert _demand(served) == (600, 1)
    assert served.get(5, DEMAND, 3) == Data.double_long_unsigned(0)
    assert served.parameter_changes() == 1
    # 09:17 - 09:20 is not measured; the first 10-minute period runs 09:20 - 09:30 at 2 kW.
    served.advance(T0 + 20 * MINUTE, PhysicalState((230.0,), (5000.0,), (0.0,)))
    assert served.get(5, DEMAND, 2) == Data.double_long_unsigned(0)
    served.advance(T0 + 30 * MINUTE, PhysicalState((230.0,), (2000.0,), (0.0,)))
    assert served.get(5, DEMAND, 3) == Data.double_long_unsigned(2000)
    served = _restart(served)
    assert _demand(served) == (600, 1)
    served.advance(T0 + 40 * MINUTE)
    assert served.get(5, DEMAND, 3) == Data.double_long_unsigned(1000)
    # The 5 kW of the unmeasured minutes never reach the maximum demand, nor are the
    # maxima of the old setting (1 kW) lost.
    assert served.session.meter.demand.maximum[Energy.IMPORT_ACTIVE][0].value_mw == 2_000_000


def test_block_to_sliding_and_back_keeps_the_interval(serve: Callable[[str], Served]) -> None:
    served = serve("az3p")
    served.set(5, DEMAND, 9, Data.long_unsigned(5))  # 15 minutes sliding by 3
    assert _demand(served) == (180, 5)
    served.set(5, DEMAND, 9, Data.long_unsigned(15))  # 15 minutes sliding by 1
    assert _demand(served) == (60, 15)
    three_phase = PhysicalState((230.0,) * 3, (1000.0,) * 3, (0.0,) * 3)
    served.advance(T0 + 16 * MINUTE, three_phase)  # 09:00 - 09:01 waits, 15 slides to 09:16
    assert served.get(5, DEMAND, 3) == Data.double_long_unsigned(3000)
    served.set(5, DEMAND, 8, Data.double_long_unsigned(120))  # 15 slides of 2: 30 minutes
    assert _demand(served) == (120, 15)
    served.set(5, DEMAND, 9, Data.long_unsigned(1))  # block over the same 30 minutes
    assert _demand(served) == (1800, 1)
    assert served.parameter_changes() == 4


@pytest.mark.parametrize(
    ("attribute", "value", "result"),
    [
        (8, Data.double_long_unsigned(420), "OTHER_REASON"),  # block 7 minutes
        (8, Data.double_long_unsigned(60), "OTHER_REASON"),  # block 1 minute
        (8, Data.long_unsigned(600), "TYPE_UNMATCHED"),
        (9, Data.long_unsigned(2), "OTHER_REASON"),  # 2 slides of 7.5 minutes
        (9, Data.long_unsigned(3), "OTHER_REASON"),  # 3 slides of 5: not a multiple of 5
        (9, Data.long_unsigned(7), "OTHER_REASON"),  # 900 s is not 7 whole slides
        (9, Data.long_unsigned(0), "OTHER_REASON"),
        (9, Data.double_long_unsigned(5), "TYPE_UNMATCHED"),
    ],
)
def test_invalid_demand_settings_are_refused_and_change_nothing(
    serve: Callable[[str], Served], attribute: int, value: Data, result: str
) -> None:
    served = serve("pmm1220")
    assert served.refusal(5, DEMAND, attribute, value) is DataAccessResult[result]
    assert _demand(served) == (900, 1)
    assert served.parameter_changes() == 0


def test_sliding_by_five_minutes_fits_no_interval(serve: Callable[[str], Served]) -> None:
    """Seed 002 5.2 b as read in docs/dlms.md: the interval a multiple of 5 slides, so a
    5-minute slide would need an interval of 25 or 50 minutes, which the cycles lack."""
    served = serve("pmm1220")
    served.set(5, DEMAND, 8, Data.double_long_unsigned(1800))
    served.set(5, DEMAND, 9, Data.long_unsigned(10))  # 30 minutes by 3
    refused = served.refusal(5, DEMAND, 8, Data.double_long_unsigned(300))  # 10 x 5 = 50 min
    assert refused is DataAccessResult.OTHER_REASON
    assert _demand(served) == (180, 10)


def test_the_demand_integration_period_object_is_the_demand_period(
    serve: Callable[[str], Served],
) -> None:
    served = serve("metercom-pro")
    served.set(1, DEMAND_PERIOD, 2, Data.double_long_unsigned(1800))
    assert _demand(served) == (1800, 1)
    served.set(5, DEMAND, 8, Data.double_long_unsigned(3600))
    assert served.get(1, DEMAND_PERIOD, 2) == Data.double_long_unsigned(3600)
    refused = served.refusal(1, DEMAND_PERIOD, 2, Data.double_long_unsigned(100))
    assert refused is DataAccessResult.OTHER_REASON
    served = _restart(served)
    assert served.get(1, DEMAND_PERIOD, 2) == Data.double_long_unsigned(3600)
    assert _demand(served) == (3600, 1)


# -- export enable and absolute mode (issue 20 item 3) ----------------------------------------

EXPORT_ENABLED = Obis(1, 0, 96, 131, 0)
ABSOLUTE_MODE = Obis(1, 0, 96, 131, 1)
EXPORTING = PhysicalState((230.0,), (-1000.0,), (0.0,))  # 1 kW fed into the grid


def _energy_wh(served: Served, quantity: Energy) -> int:
    return served.session.meter.energy_mwh(quantity) // 1000


def test_export_disabled_stops_registering_export_from_that_instant(
    serve: Callable[[str], Served],
) -> None:
    """pmm1220 (seed 000 "Export enable/disable configuration"): an hour of 1 kW export is
    1000 Wh of -A; with export disabled the next hour adds nothing; after a restart it is
    still disabled."""
    served = serve("pmm1220")
    assert served.get(1, EXPORT_ENABLED, 2) == Data.boolean(True)
    served.advance(T0 + 60 * MINUTE, EXPORTING)
    assert _energy_wh(served, Energy.EXPORT_ACTIVE) == 1000
    served.set(1, EXPORT_ENABLED, 2, Data.boolean(False))
    assert served.get(1, EXPORT_ENABLED, 2) == Data.boolean(False)
    assert served.parameter_changes() == 1
    served.advance(T0 + 120 * MINUTE, EXPORTING)
    assert _energy_wh(served, Energy.EXPORT_ACTIVE) == 1000
    assert _energy_wh(served, Energy.IMPORT_ACTIVE) == 0
    served = _restart(served)
    assert served.get(1, EXPORT_ENABLED, 2) == Data.boolean(False)
    served.advance(T0 + 180 * MINUTE, EXPORTING)
    assert _energy_wh(served, Energy.EXPORT_ACTIVE) == 1000


def test_absolute_mode_counts_export_as_import_from_that_instant(
    serve: Callable[[str], Served],
) -> None:
    """Seed 000 "Absolute active energy": +A counts |P|, so an hour of 1 kW export adds
    1000 Wh to +A once the mode is on, and nothing to -A."""
    served = serve("magno22")
    served.advance(T0 + 60 * MINUTE, EXPORTING)
    served.set(1, ABSOLUTE_MODE, 2, Data.boolean(True))
    served.advance(T0 + 120 * MINUTE, EXPORTING)
    assert _energy_wh(served, Energy.IMPORT_ACTIVE) == 1000
    assert _energy_wh(served, Energy.EXPORT_ACTIVE) == 1000  # the first hour only
    served = _restart(served)
    assert served.get(1, ABSOLUTE_MODE, 2) == Data.boolean(True)
    refused = served.refusal(1, ABSOLUTE_MODE, 2, Data.unsigned(0))
    assert refused is DataAccessResult.TYPE_UNMATCHED
    assert served.get(1, ABSOLUTE_MODE, 2) == Data.boolean(True)
    assert served.parameter_changes() == 1
