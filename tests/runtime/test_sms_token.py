"""Tokens by SMS on a Magno 22 (seed 003 "STS/CTS Token and SMS"; issue 20 item 10;
docs/sms.md): the token in an SMS takes the keypad's path (`Meter.enter_token`): credit once,
the same token again Used, garbage named, the keypad lock after repeated failures, each entry
committed before its reply; a token the memory did not take gets no reply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.runtime.test_sms import Stored

from metertwin.codec.obis import Obis
from metertwin.meter.events import EventCode
from metertwin.meter.wallet import MICRO
from metertwin.models import load_model
from metertwin.runtime.sms import has_sms
from metertwin.schema import SchemaError
from metertwin.storage.sqlite import CommitError
from metertwin.sts import BaseDate, CreditKind, CreditToken, encode_token, tid_from_datetime
from metertwin.sts_identity import meter_key_from_config

SERIAL = "12345678"  # tests.helpers.stored_device's meter
KEY = meter_key_from_config({}, "(demo)", SERIAL)  # the demo identity: no [sts] section
TID = tid_from_datetime(datetime(2026, 6, 1, 9, tzinfo=UTC), BaseDate.Y2014)
CREDIT = Obis(0, 0, 19, 10, 0)  # the token wallet's Credit (class 112)


def credit_token(tid: int = TID, tenths: int = 250) -> str:
    """A 20-digit currency credit token vended by metertwin's STS code for the demo meter."""
    return encode_token(
        CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=tid, amount_tenths=tenths), KEY
    )


def grouped(digits: str) -> str:
    """As a vending receipt prints it: 4-4-4-4-4."""
    return " ".join(digits[i : i + 4] for i in range(0, 20, 4))


class Magno(Stored):
    """A stored magno22 with its SMS modem, served to its management client."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "magno22")

    @property
    def credit_micro(self) -> int:
        wallet = self.session.meter.wallet
        assert wallet is not None
        return wallet.credit

    def credit_dlms(self) -> int:
        """The token wallet's current_credit_amount (class 112 attribute 2) over the device."""
        return self.get(112, CREDIT, 2).as_int()


@pytest.fixture
def magno(tmp_path: Path) -> Iterator[Magno]:
    meter = Magno(tmp_path / "m")
    yield meter
    meter.close()


def test_magno22_has_a_token_modem_and_the_loader_wants_sts() -> None:
    assert "sms-token" in load_model("magno22").spec.functions
    assert "sms-token" not in load_model("metercom-pro").spec.functions


def test_a_token_sms_credits_once_then_is_used(magno: Magno, tmp_path: Path) -> None:
    assert has_sms(magno.session)
    before = magno.credit_micro
    outcome = magno.modem.deliver(grouped(credit_token()), "+27820000000")
    assert outcome.reply.startswith("Accept: credit +25.00 "), outcome.reply
    assert magno.credit_micro == before + 25 * MICRO
    again = magno.modem.deliver(credit_token())
    assert again.reply.startswith("Reject: Used: "), again.reply
    assert magno.credit_micro == before + 25 * MICRO
    assert [r.accepted for r in magno.session.meter.token_results[:2]] == [False, True]
    # committed before the reply: a restarted meter has the credit and remembers the TID
    magno.close()
    restarted = Magno(tmp_path / "m")
    try:
        assert restarted.credit_micro == before + 25 * MICRO
        assert restarted.credit_dlms() == restarted.credit_micro // 1000  # scale -3
        assert restarted.modem.deliver(credit_token()).reply.startswith("Reject: Used: ")
    finally:
        restarted.close()


def test_garbage_is_named_and_counts_toward_the_keypad_lock(magno: Magno) -> None:
    meter = magno.session.meter
    before = magno.credit_micro
    failures = meter.spec.token_entry.lockout_failures
    token = credit_token()
    mistyped = token[:-1] + str((int(token[-1]) + 1) % 10)
    replies = [magno.modem.deliver("hello meter").reply]
    replies += [magno.modem.deliver(token[:19]).reply for _ in range(failures - 2)]
    replies.append(magno.modem.deliver(mistyped).reply)
    assert replies[0].startswith("Reject: Format: "), replies[0]
    assert replies[1].startswith("Reject: Format: "), replies[1]
    assert replies[-1].startswith(("Reject: CRC: ", "Reject: Format: ")), replies[-1]
    assert magno.session.meter.event_counts[int(EventCode.TOKEN_REJECTED)] == failures
    assert magno.session.meter.event_counts[int(EventCode.KEYPAD_LOCKED)] == 1
    locked = magno.modem.deliver(token).reply  # the right token, but the keypad is locked
    assert locked.startswith("Reject: keypad locked until "), locked
    assert magno.credit_micro == before
    assert all(len(reply) <= 160 for reply in [*replies, locked])


def test_a_token_not_committed_gets_no_reply(magno: Magno, monkeypatch: pytest.MonkeyPatch) -> None:
    before = magno.credit_micro

    def refuse(*_a: object, **_k: object) -> None:
        raise CommitError("disk full")

    monkeypatch.setattr(magno.session.store, "commit", refuse)
    with pytest.raises(CommitError):
        magno.modem.deliver(credit_token())
    assert magno.session.meter.wallet is not None
    assert magno.session.meter.wallet.credit == before  # back at the last commit


def test_a_concatenated_part_is_not_entered(magno: Magno) -> None:
    outcome = magno.modem.deliver(credit_token()[:10], udh=bytes.fromhex("050003010201"))
    assert outcome.reply.startswith("Reject: a part of a concatenated SMS")
    assert magno.session.meter.token_results == []


def test_sms_token_without_sts_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "src/metertwin/models/data/magno22.toml").read_text()
    model = tmp_path / "m.toml"
    model.write_text(text.replace('"sts", ', ""))
    with pytest.raises(SchemaError, match="sms-token needs sts"):
        load_model(str(model))
