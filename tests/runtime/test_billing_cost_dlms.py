"""The cost column of the billing profile as a head-end reads it (issue 5 item 2).

A pmm1220 meter in its SQLite memory buys 100.00 SAR of credit and lives two months of the
household of `tests.meter.test_billing_cost` in accelerated time (0.897 SAR a day: no
standing or fixed charges in pmm1220). Its DLMS/COSEM server on 127.0.0.1 is then read with
our client over the reader association (client 32, LLS "00000001"), entries coming from the
memory as in `metertwin run`: February cost 28 x 0.897 = 25.116, March 31 x 0.897 = 27.807.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.interop.conftest import LoopThread
from tests.meter.test_billing_cost import DAY_ENERGY_COST, household

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.config import UserConfig
from metertwin.cosem.access import AssociationContext
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.objects import CaptureObject
from metertwin.meter.core import Meter
from metertwin.meter.inputs import PhysicalState
from metertwin.models import load_model, model_from_text
from metertwin.models.binder import build_logical_device
from metertwin.runtime.session import SIMULATED, Session, open_session
from metertwin.storage import MeterStore
from metertwin.sts import BaseDate, CreditKind, CreditToken, encode_token
from metertwin.sts.anatomy import tid_from_datetime
from metertwin.sts_identity import meter_key_from_config
from metertwin.transport.tcp import DlmsTcpServer, TcpServerSettings

BILLING_PROFILE = "1.0.98.1.0.255"
PERIOD_COST = Obis(0, 0, 96, 128, 3, 255)
MONTHLY_COST = "0.0.96.128.2.255"
READER_SAP, READER_SECRET = 32, b"00000001"
SERIAL = "00000042"
CURRENCY, SCALE = 10, -3  # DLMS unit "currency", amounts at scale -3


def _live_two_months(data: Path) -> Session:
    """The meter is created, buys credit and lives to 1 April 13:00 local, committing at
    every midnight like `metertwin simulate`."""
    session = open_session(
        data, "pmm1220", UserConfig(), "idle", "2026-02-01T00:00", lambda _m: 0, SIMULATED, SERIAL
    )
    meter = session.meter
    key = meter_key_from_config({}, "(demo)", SERIAL)  # the session's demo identity
    tid = tid_from_datetime(datetime.fromtimestamp(meter.now_ms / 1000, UTC), BaseDate.Y2014)
    token = CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=tid, amount_tenths=1000)
    assert meter.enter_token(encode_token(token, key)).accepted
    session.commit()
    session.advance_to(int(datetime(2026, 4, 1, 10, tzinfo=UTC).timestamp() * 1000), household)
    return session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Session, DlmsTcpServer]]:
    """The session lives on the server's thread (its SQLite connection belongs there)."""
    loop = LoopThread()
    session = loop.call(lambda: _live_two_months(tmp_path / "meter"))
    device = build_logical_device(session.model, session.meter, session.commit, session.store)
    server = DlmsTcpServer(device, "127.0.0.1", 0, TcpServerSettings(frozenset({1})))
    loop.run(server.start())
    try:
        yield session, server
    finally:
        loop.run(server.stop())
        loop.call(session.close)
        loop.close()


def test_the_billing_profile_shows_the_cost_of_each_period_to_a_head_end(
    served: tuple[Session, DlmsTcpServer],
) -> None:
    session, server = served
    february, march = 28 * DAY_ENERGY_COST // 1000, 31 * DAY_ENERGY_COST // 1000
    assert (february, march) == (25_116, 27_807)
    with DlmsClient(timeout=10).connect(
        "127.0.0.1", server.port, READER_SAP, password=READER_SECRET
    ) as client:
        listed = {(e.class_id, e.logical_name) for e in client.object_list()}
        assert (3, PERIOD_COST) in listed
        columns = client.capture_objects(BILLING_PROFILE)
        assert columns[-1] == CaptureObject(3, PERIOD_COST, 2)
        assert CaptureObject(3, Obis(1, 0, 1, 8, 0, 255), 2) in columns
        rows = client.get(BILLING_PROFILE, 7, 2).as_items()
        assert [row.as_items()[-1] for row in rows] == [
            Data.double_long(february),
            Data.double_long(march),
        ]
        energy = columns.index(CaptureObject(3, Obis(1, 0, 1, 8, 0, 255), 2))
        assert [row.as_items()[energy] for row in rows] == [
            Data.double_long_unsigned(28 * 3000),  # Wh: 1 + 2 kWh a day
            Data.double_long_unsigned(59 * 3000),
        ]
        # the register on its own: April so far, one day of the household
        assert client.get(PERIOD_COST, 3, 2) == Data.double_long(DAY_ENERGY_COST // 1000)
        assert client.get(PERIOD_COST, 3, 3) == Data.structure(
            [Data.integer(SCALE), Data.enum(CURRENCY)]
        )
        # the billing point is pmm1220's month start: the months agree with the periods
        months = client.get(MONTHLY_COST, 1, 2).as_items()
        assert [m.as_items() for m in months] == [
            (Data.visible_string("2026-04"), Data.double_long(897)),
            (Data.visible_string("2026-03"), Data.double_long(march)),
            (Data.visible_string("2026-02"), Data.double_long(february)),
        ]
    wallet = session.meter.wallet
    assert wallet is not None
    assert wallet.credit == 100_000_000 - (february + march + 897) * 1000


def test_a_memory_from_before_the_cost_column_keeps_its_billing_layout(tmp_path: Path) -> None:
    """A meter's model is fixed in its memory when it is created: one made by an earlier
    metertwin keeps its billing profile without the cost column (its stored entries stay
    readable), and its wallet state without a period cost resumes counting from 0. The
    register 0.0.96.128.3 answers all the same."""
    model = load_model("pmm1220")
    old_text = model.text.replace('"max_demand_time:1:0", "cost"]', '"max_demand_time:1:0"]')
    assert old_text != model.text
    old = model_from_text(old_text, model.source, {})
    start = int(datetime(2026, 1, 31, 9, tzinfo=UTC).timestamp() * 1000)  # 31 Jan 12:00 local
    meter = Meter(old.spec, start, SERIAL)
    meter.advance(start + 3_600_000, PhysicalState((230.0,), (2000.0,), (0.0,)))  # 2 kWh, r2
    state = meter.to_state()
    del state["prepayment"]["wallet"]["period_cost"]  # as an earlier metertwin saved it
    state["captures"][BILLING_PROFILE] = meter._next_billing_point(meter.meter_time_ms())
    with MeterStore.open(tmp_path / "old") as store:
        store.create(model.source, old_text, {}, state, {"model": "pmm1220"})
    session = open_session(
        tmp_path / "old", None, UserConfig(), "idle", None, lambda _m: 0, SIMULATED
    )
    try:
        wallet = session.meter.wallet
        assert wallet is not None and (wallet.period_cost, wallet.month_cost) == (0, 690_000)
        session.advance_to(start + 24 * 3_600_000)  # over the billing point of 1 February
        device = build_logical_device(session.model, session.meter, session.commit, session.store)
        policy = device.association_policy(READER_SAP)
        assert policy is not None
        ctx = AssociationContext(policy, READER_SAP, 1, policy.conformance, 1024, 1024, True)

        def get(class_id: int, obis: str, attribute: int) -> Data:
            return device.get(ctx, AttributeDescriptor(class_id, Obis.parse(obis), attribute), None)

        columns = get(7, BILLING_PROFILE, 3).as_items()
        assert len(columns) == len(old.spec.profiles[2].channels) == 18  # no cost column
        rows = get(7, BILLING_PROFILE, 2).as_items()
        assert len(rows) == 1 and len(rows[0].as_items()) == 18
        assert rows[0].as_items()[2] == Data.double_long_unsigned(2000)  # +A Wh at 1 Feb
        assert get(3, str(PERIOD_COST), 2) == Data.double_long(0)  # idle since, restarted
        assert get(1, MONTHLY_COST, 2).as_items()[1].as_items()[1] == Data.double_long(690)
    finally:
        session.close()
