"""wM-Bus telegrams for the tests, with their sources.

OMS_GAS: OMS Specification Vol. 2, Annex N "Message examples" (Issue 4.0.2, 2014-01-25),
N.1.1 "wM-Bus Meter with Security profile A": a gas meter ELS 12345678 version 0x33 type 3
(gas), C-field 0x44, short header CI 0x7A, access number 0x2A, configuration 0x2520 (mode 5,
2 encrypted blocks), key 01 02 .. 0F 11, format A with its four block CRCs. Its plain text
is 2F2F 0C14 27048502 (volume 28504.27 m3) 046D 32371F15 (2008-05-31 23:50) 02FD17 0000
(error flags 0) then 2F fillers. The telegram and key are as the Annex prints them; the CRCs
and the 2F2F check verify, which is what ties our CRC and IV rule to the published example.

The other telegrams are built by the encoder from the standard's rules (EN 13757-4 block
layout, OMS Vol. 2 mode 5): no published telegram of them exists here, so their tests show
round trips and refusals, not agreement with someone else's bytes.
"""

from __future__ import annotations

from metertwin.protocols.wmbus_app import (
    CI_LONG_HEADER,
    CI_SHORT_HEADER,
    TransportHeader,
    encrypt_mode5,
)
from metertwin.protocols.wmbus_link import Address, FrameFormat, encode_frame

OMS_GAS = bytes.fromhex(
    "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493B"
    "C2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A"
)
OMS_GAS_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")
OMS_GAS_PLAIN = bytes.fromhex("2F2F0C1427048502046D32371F1502FD1700002F2F2F2F2F2F2F2F2F2F2F2F2F")

WATER = Address("KAM", "76543210", 0x1B, 0x07)  # a constructed water meter (type 7)
KEY = bytes(range(16))
# 0413 volume 12.345 m3 (L), 0C78 fabrication number 98765432, 426C date storage 1,
# 841003 energy 1000 Wh tariff 1: built from the EN 13757-3 DIF/VIF tables.
RECORDS = bytes.fromhex(
    "2F2F" "0413" "39300000" "0C78" "32547698" "426C" "3F2C" "841003" "E8030000"
)  # fmt: skip


def mode5_telegram(
    address: Address = WATER,
    records: bytes = RECORDS,
    key: bytes = KEY,
    access_number: int = 0x51,
    frame_format: FrameFormat = "A",
    long_header: bool = False,
) -> bytes:
    """A mode 5 telegram of ``records`` (starting 2F2F) from ``address``."""
    blocks = -(-len(records) // 16)
    configuration = 0x0500 | blocks << 4
    header = TransportHeader(address, address.to_bytes(), access_number, 0, configuration)
    tpl = bytes([access_number, 0]) + configuration.to_bytes(2, "little")
    cipher = encrypt_mode5(header, records, key)
    if long_header:
        raw = address.to_bytes()
        a_then_m = raw[2:6] + raw[0:2] + raw[6:8]
        link = Address("ABB", "00000001", 1, 0x31)  # a radio adapter relaying the meter
        return encode_frame(link, CI_LONG_HEADER, a_then_m + tpl + cipher, frame_format)
    return encode_frame(address, CI_SHORT_HEADER, tpl + cipher, frame_format)


def plain_telegram(address: Address = WATER, records: bytes = RECORDS[2:]) -> bytes:
    """An unencrypted (mode 0) short-header telegram."""
    return encode_frame(address, CI_SHORT_HEADER, bytes([1, 0, 0, 0]) + records)
