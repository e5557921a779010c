"""Golden HDLC frames (protocols.md, "HDLC"): dlms-cosem tests/test_hdlc/test_hdlc.py, server
logical 1, physical 17, public client 16; and the serial-number address of SN 12345678."""

from __future__ import annotations

from metertwin.protocols.hdlc_frame import HdlcAddress, decode_frame

SNRM = bytes.fromhex("7ea00802232193bd647e")
UA = bytes.fromhex("7EA01F21022373E6C781801205019A06019A070400000001080400000001CCA27E")
AARQ = bytes.fromhex(
    "7EA02C02232110AF9FE6E600601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFFC5E47E"
)
AARE = bytes.fromhex(
    "7EA0382102233034E7E6E7006129A109060760857405080101A203020100A305A103020100BE10040E0800065F"
    "1F0400001E1D04C80007B86A7E"
)
SNRM_BY_SERIAL = bytes.fromhex("7EA00A0002682D21933F1D7E")  # physical 6678 in four octets
GOLDEN = (SNRM, UA, AARQ, AARE, SNRM_BY_SERIAL)

AARQ_APDU = decode_frame(AARQ).information[3:]  # the LLC header E6 E6 00 removed
AARE_APDU = decode_frame(AARE).information[3:]  # E6 E7 00 removed

SERVER = HdlcAddress.server(1, 17)
CLIENT = HdlcAddress(16)
