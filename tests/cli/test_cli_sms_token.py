"""A token by SMS to `metertwin run --model magno22` (seed 003 "STS/CTS Token and SMS"; issue 20
item 10; docs/sms.md), as a user sends it: `metertwin sms` and `POST /sms` carry a token that
metertwin's STS vending code made for the meter; the credit a DLMS client reads over TCP grows
once, the same token again is Used, garbage is named, and the credit survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_sms import metercom, post, sms
from tests.runtime.test_control_api import cli
from tests.runtime.test_sms_token import SERIAL, credit_token, grouped

MAGNO = ("--serial", SERIAL)
READER = ("--client", "32", "--password", "11111111")  # magno22's meter reader


def credit(dlms: str) -> float:
    """The token wallet's current_credit_amount (0.0.19.10.0.255 attribute 2) over DLMS."""
    shown = json.loads(cli("read", dlms, "0.0.19.10.0.255:2", *READER, "--json"))
    return float(shown["value"])


def test_a_token_sms_credits_once_over_the_cli_and_the_api(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    token = credit_token()
    with metercom(data, *MAGNO, model="magno22") as meter:
        before = credit(meter.dlms)
        reply = sms(meter.api, grouped(token), "--from", "+27820000000")
        assert reply.startswith("Accept: credit +25.00 EUR; credit "), reply
        after = credit(meter.dlms)
        assert after - before == 25.0  # EUR, scaled by the reader
        status, answer = post(f"http://{meter.api}/sms", json.dumps({"text": token}).encode())
        assert status == 200 and answer["reply"].startswith("Reject: Used: "), answer
        assert answer["committed"] is True
        assert credit(meter.dlms) == after
        status, answer = post(f"http://{meter.api}/sms", b'{"text": "12345"}')
        assert answer["reply"] == "Reject: Format: token has 5 digits, 20 expected", answer
    with metercom(data, *MAGNO, model="magno22") as meter:
        assert credit(meter.dlms) == after
        assert sms(meter.api, token).startswith("Reject: Used: ")
