"""`metertwin wmbus HOST:APIPORT HEX`, `POST /wmbus` and `metertwin wmbus decode HEX --key K`
against `metertwin run --model metercom-pro --port 0 --api-port 0` (docs/wmbus.md): a meter
listed over DLMS (ACTION add_meter, as the management client) has its telegram stored, read
back from the buffer over DLMS and deleted by entry; bad telegrams are counted and dropped,
also after a restart; bad requests are refused in JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_sms import UTILITY, metercom, metertwin, post
from tests.protocols.wmbus_vectors import OMS_GAS, OMS_GAS_KEY
from tests.runtime.test_control_api import cli

COLLECTOR = "0.0.128.0.0.255"
ELS_METER = json.dumps(
    {
        "structure": [
            {"visible-string": "ELS"},
            {"visible-string": "12345678"},
            {"unsigned": 0x33},
            {"unsigned": 3},
            {"octet-string": "0x" + OMS_GAS_KEY.hex()},
            {"double-long-unsigned": 3600},
        ]
    }
)
ALL_ENTRIES = json.dumps(
    {
        "structure": [
            {"double-long-unsigned": 1},
            {"double-long-unsigned": 0},
            {"long-unsigned": 1},
            {"long-unsigned": 0},
        ]
    }
)


def dlms(*args: str) -> str:
    return cli(*args, *UTILITY)


def test_a_listed_meters_telegram_is_stored_read_over_dlms_and_deleted(tmp_path: Path) -> None:
    data = tmp_path / "meter"
    with metercom(data) as meter:
        dlms("action", meter.dlms, f"{COLLECTOR}:3", ELS_METER)  # add_meter
        assert dlms("read", meter.dlms, f"{COLLECTOR}:6").strip().endswith("1")
        stored = cli("wmbus", meter.api, OMS_GAS.hex())
        assert stored.splitlines()[:2] == ["stored: buffer entry 1", "  volume: 28504.27 m3"]
        again = cli("wmbus", meter.api, OMS_GAS.hex())  # within the meter's 3600 s
        assert again.startswith("too_early: ")
        assert OMS_GAS.hex() in dlms("read", meter.dlms, f"{COLLECTOR}:9").lower()
        spoiled = bytearray(OMS_GAS)
        spoiled[40] ^= 1
        assert cli("wmbus", meter.api, spoiled.hex()).startswith("bad_crc: ")
    with metercom(data) as meter:  # the buffer and the counters were committed
        assert OMS_GAS.hex() in dlms("read", meter.dlms, f"{COLLECTOR}:9").lower()
        counters = dlms("read", meter.dlms, f"{COLLECTOR}:11")
        # received 3, stored 1, bad_crc 1, ..., too_early 1 (docs/wmbus.md, attribute 11)
        assert "{3, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0}" in counters, counters
        dlms("action", meter.dlms, f"{COLLECTOR}:2", ALL_ENTRIES)  # delete_entries
        assert dlms("read", meter.dlms, f"{COLLECTOR}:7").strip().endswith("0")


def test_post_wmbus_answers_the_outcome_and_refuses_bad_requests(tmp_path: Path) -> None:
    with metercom(tmp_path / "meter") as meter:
        url = f"http://{meter.api}/wmbus"
        status, answer = post(url, json.dumps({"hex": OMS_GAS.hex()}).encode())
        assert (status, answer["outcome"], answer["stored"]) == (200, "unknown_meter", False)
        assert answer["sender"]["manufacturer"] == "ELS"
        status, answer = post(url, json.dumps({"hex": OMS_GAS[:20].hex()}).encode())
        assert (status, answer["outcome"]) == (200, "truncated")
        for body, code, names in [
            (b"{", 400, "bad JSON"),
            (b"{}", 422, "hex"),
            (b'{"hex": "zz"}', 422, "hex"),
            (b'{"hex": "00", "format": "C"}', 422, "format"),
        ]:
            status, answer = post(url, body)
            assert status == code and names in answer["error"], answer


def test_wmbus_decode_prints_the_records_and_refuses_a_wrong_key() -> None:
    decoded = metertwin("wmbus", "decode", OMS_GAS.hex(), "--key", OMS_GAS_KEY.hex())
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.splitlines() == [
        "sender: ELS 12345678 version 51 type 0x03",
        "link: format A, C 0x44, CI 0x7A",
        "transport: access number 42, status 0x00, security mode 5",
        "  volume: 28504.27 m3",
        "  date and time: 2008-05-31T23:50",
        "  error flags: 0",
    ]
    wrong = metertwin("wmbus", "decode", OMS_GAS.hex(), "--key", "00" * 16)
    assert wrong.returncode == 2 and "wrong_key" in wrong.stderr
    bad = metertwin("wmbus", "decode", "xyz")
    assert bad.returncode == 2 and "hexadecimal" in bad.stderr
    assert "Traceback" not in wrong.stderr + bad.stderr
