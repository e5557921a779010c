"""Magno 22's three independent load profile surveys (seed 003 "Load Profile": up to 60
channels, 3 independent surveys, intervals programmable from 1 to 60 minutes; issue 20 item 1),
programmed by a head-end with our client over a real socket: each survey's capture_period is
written through the management association, the meter's time advances, and each buffer holds
the entries of its own period; capture_objects of one survey changes it alone.

The meter lives in its SQLite memory on the server's thread, as in `metertwin run`: a SET is
committed before its answer and the buffers are read from the memory.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.runtime.conftest import MINUTE_MS, START_MS, ServedMagno

from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.client.errors import DataAccessError
from metertwin.dlms.client.objects import CaptureObject
from metertwin.models.profile_objects import capturable_channels
from metertwin.runtime.session import Session

SURVEYS = (Obis(1, 0, 99, 1, 0), Obis(1, 0, 99, 1, 1), Obis(1, 0, 99, 1, 2))
DAILY = Obis(1, 0, 99, 2, 0)


def _stamps(client: ClientAssociation, survey: Obis) -> list[datetime]:
    rows = client.get(survey, 7, 2).as_items()
    stamps = []
    for row in rows:
        stamp = CosemDateTime.from_bytes(row.as_items()[0].as_bytes()).to_datetime()
        assert stamp is not None
        stamps.append(stamp.astimezone(UTC))
    return stamps


def _definitions(session: Session, served: set[tuple[int, Obis]], count: int) -> list[Data]:
    """``count`` distinct capture object definitions of ``served`` objects the meter can
    capture, clock first."""
    keys = sorted(
        (k for k in capturable_channels(session.meter) if (k[0], Obis.from_bytes(k[1])) in served),
        key=lambda k: (k[0] != 8, k),
    )
    assert len(keys) >= count
    return [
        Data.structure(
            [
                Data.long_unsigned(class_id),
                Data.octet_string(name),
                Data.integer(attribute),
                Data.long_unsigned(0),
            ]
        )
        for class_id, name, attribute in keys[:count]
    ]


def test_magno22_lists_three_surveys_and_a_daily_survey(served_magno: ServedMagno) -> None:
    with served_magno.management() as client:
        listed = {(e.class_id, e.logical_name) for e in client.object_list()}
        for survey in (*SURVEYS, DAILY):
            assert (7, survey) in listed
        assert [client.get(s, 7, 4).as_int() for s in SURVEYS] == [900, 900, 3600]
        assert client.get(DAILY, 7, 4).as_int() == 86_400


def test_each_survey_captures_on_its_own_programmed_period(served_magno: ServedMagno) -> None:
    periods = (60, 600, 1200)  # 1, 10 and 20 minutes
    with served_magno.management() as client:
        for survey, period in zip(SURVEYS, periods, strict=True):
            client.set(survey, 7, 4, Data.double_long_unsigned(period))
        assert [client.get(s, 7, 4).as_int() for s in SURVEYS] == list(periods)
        for refused in (0, 7 * 60, 2 * 3600):  # not 1-60 minutes dividing the hour
            with pytest.raises(DataAccessError) as caught:
                client.set(SURVEYS[1], 7, 4, Data.double_long_unsigned(refused))
            assert caught.value.result is DataAccessResult.OTHER_REASON
    served_magno.advance(START_MS + 40 * MINUTE_MS)
    with served_magno.management() as client:
        for survey, period in zip(SURVEYS, periods, strict=True):
            stamps = _stamps(client, survey)
            step = period * 1000
            expected = range(START_MS + step, START_MS + 40 * MINUTE_MS + 1, step)
            assert [int(s.timestamp() * 1000) for s in stamps] == list(expected), survey
        assert client.get(SURVEYS[2], 7, 7).as_int() == 2  # entries_in_use: 09:20, 09:40


def test_a_survey_s_channels_change_it_alone(served_magno: ServedMagno) -> None:
    """Survey 2 gets 60 channels (the seed's limit; 61 refused): its buffer is cleared and
    captured anew, surveys 1 and 3 keep their channels and entries."""
    served_magno.advance(START_MS + 60 * MINUTE_MS)
    with served_magno.management() as client:
        kept = [client.capture_objects(s) for s in (SURVEYS[0], SURVEYS[2])]
        before = [client.get(s, 7, 7).as_int() for s in (SURVEYS[0], SURVEYS[2])]
        assert before == [4, 1]
        served = {(e.class_id, e.logical_name) for e in client.object_list()}
        sixty = Data.array(
            served_magno.loop.call(lambda: _definitions(served_magno.session, served, 61))
        )
        first_sixty = Data.array(list(sixty.as_items()[:60]))
        client.set(SURVEYS[1], 7, 3, first_sixty)
        assert len(client.capture_objects(SURVEYS[1])) == 60
        assert client.get(SURVEYS[1], 7, 7).as_int() == 0  # the Blue Book: cleared
        with pytest.raises(DataAccessError):
            client.set(SURVEYS[1], 7, 3, sixty)
    served_magno.advance(START_MS + 90 * MINUTE_MS)
    with served_magno.management() as client:
        assert [client.capture_objects(s) for s in (SURVEYS[0], SURVEYS[2])] == kept
        assert client.get(SURVEYS[0], 7, 7).as_int() == 6  # 09:15 ... 10:30
        assert client.get(SURVEYS[1], 7, 7).as_int() == 2  # 10:15, 10:30
        assert client.get(SURVEYS[2], 7, 7).as_int() == 1  # 10:00 (11:00 to come)
        row = client.get(SURVEYS[1], 7, 2).as_items()[-1].as_items()
        assert len(row) == 60
        assert client.capture_objects(SURVEYS[1])[0] == CaptureObject(8, Obis(0, 0, 1, 0, 0), 2)
