"""The MeterCom PRO's SMS configuration on a stored meter (seed 004 §4.2; docs/sms.md): a CNF
changes the settings DLMS shows (read back through the logical device as `metertwin run`
serves it), is committed before the reply and survives a restart; NPWD is the DLMS meter
reader's new password; RESET restarts the module 30 s of meter time after its OK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import stored_device, utc_ms

from metertwin.codec.axdr import Data
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.cosem.backend import LoginResult
from metertwin.cosem.device import LogicalDevice
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.mcp_module import McpModule
from metertwin.protocols.mcp_sms import Command, SmsCommand, handle, render, settings_reply
from metertwin.runtime.control_api import MeterControl, SmsBody
from metertwin.runtime.session import Session
from metertwin.runtime.sms import RESET_DELAY_MS, SmsModem
from metertwin.storage.sqlite import CommitError

T0 = utc_ms(2026, 6, 1, 10)
UTILITY = 1  # metercom-pro's management client (LLS UTILITY)
READER = 32  # the meter reader (LLS HELLO): its password is the SMS password
CLIENT_CONNECTION = Obis(0, 0, 129, 0, 3)  # class 8195
TCP_SETUP = Obis(0, 0, 25, 0, 0)
PPP_SETUP = Obis(0, 0, 25, 3, 0)
GPRS_MODEM_SETUP = Obis(0, 0, 25, 4, 0)
# Seed 004 §4.2: the manual's CNF example with the values of its example reply, and that reply.
MANUAL_CNF = (
    "MCP CNF PWD=HELLO APN=internet.t-mobile.cz; DUSR=internet; DPWD=; IP=10.0.25.30;"
    " PORT=58600; RINT=2;"
)
MANUAL_CNF_REPLY = "APN=internet.t-mobile.cz DUSR=internet DPWD= IP=10.0.25.30 PORT=58600 RINT=2"


class Stored:
    def __init__(self, directory: Path, model: str | None) -> None:
        self.session, self.device, self.context = stored_device(directory, model, UTILITY, T0)
        self.modem = SmsModem(self.session)
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.close()

    def get(self, class_id: int, obis: Obis, attribute: int) -> Data:
        return self.device.get(self.context, AttributeDescriptor(class_id, obis, attribute), None)


@pytest.fixture
def meter(tmp_path: Path) -> Iterator[Stored]:
    stored = Stored(tmp_path / "m", "metercom-pro")
    yield stored
    stored.close()


def _restart(stored: Stored, directory: Path) -> Stored:
    stored.close()
    return Stored(directory, None)


def _login(device: LogicalDevice, secret: bytes) -> LoginResult:
    policy = device.association_policy(READER)
    assert policy is not None
    return device.login(policy, secret)


def test_a_cnf_is_what_dlms_shows_and_survives_a_restart(meter: Stored, tmp_path: Path) -> None:
    assert meter.modem.deliver(MANUAL_CNF, "+420603000000").reply == MANUAL_CNF_REPLY
    for stored in (meter, _restart(meter, tmp_path / "m")):
        assert stored.get(45, GPRS_MODEM_SETUP, 2) == Data.octet_string(b"internet.t-mobile.cz")
        assert stored.get(44, PPP_SETUP, 5) == Data.structure(
            [Data.octet_string(b"internet"), Data.octet_string(b"")]
        )
        assert stored.get(8195, CLIENT_CONNECTION, 2) == Data.visible_string("10.0.25.30")
        assert stored.get(8195, CLIENT_CONNECTION, 3) == Data.long_unsigned(58600)
        assert stored.get(8195, CLIENT_CONNECTION, 4) == Data.double_long_unsigned(7200)
        assert stored.get(41, TCP_SETUP, 2) == Data.long_unsigned(58600)
        assert stored.modem.deliver("MCP CNF PWD=HELLO").reply == MANUAL_CNF_REPLY
        stored.close()


def test_what_dlms_sets_is_what_the_sms_echo_shows(meter: Stored) -> None:
    address = AttributeDescriptor(8195, CLIENT_CONNECTION, 2)
    meter.device.set(meter.context, address, None, Data.visible_string("192.0.2.7"))
    meter.device.set(
        meter.context,
        AttributeDescriptor(8195, CLIENT_CONNECTION, 4),
        None,
        Data.double_long_unsigned(0),
    )
    echo = meter.modem.deliver("MCP CNF PWD=HELLO").reply
    assert echo == "APN=internet DUSR= DPWD= IP=192.0.2.7 PORT=4059 RINT=0"


def test_npwd_is_the_meter_readers_new_dlms_password(meter: Stored, tmp_path: Path) -> None:
    assert _login(meter.device, b"HELLO") is LoginResult.ACCEPTED
    meter.modem.deliver("MCP CNF PWD=HELLO NPWD=S3cret")
    assert _login(meter.device, b"S3cret") is LoginResult.ACCEPTED
    assert meter.modem.deliver("MCP INFO PWD=HELLO").reply == "Password incorrect"
    again = _restart(meter, tmp_path / "m")
    assert _login(again.device, b"S3cret") is LoginResult.ACCEPTED
    assert _login(again.device, b"HELLO") is LoginResult.WRONG_SECRET
    assert again.modem.deliver("MCP INFO PWD=S3cret").reply.startswith("EM_ID=")
    again.close()


def test_info_reports_the_module_as_dlms_describes_it(meter: Stored) -> None:
    # serial 12345678 (tests.helpers): the module's serial is 50 and its 8 digits
    # (rs485_bus.module_serial_for); GSM diagnostic signal_quality 20 is -113 + 2 x 20 dBm
    # (3GPP TS 27.007 +CSQ) and ps_status 4 (HSDPA) a UMTS registration; LIP the IPv4 setup's.
    assert meter.modem.deliver("MCP INFO PWD=HELLO").reply == (
        "EM_ID=12345678 SN=50-1234-5678 SIG=-73dBm LIP=127.0.0.1 STAT=LISTEN TECH=UMTS"
    )
    meter.modem.state = lambda: "GSM"
    assert " STAT=GSM " in meter.modem.deliver("MCP INFO PWD=HELLO").reply


def test_a_refused_sms_changes_nothing(meter: Stored) -> None:
    before = dict(meter.session.meter.parameters)
    assert meter.modem.deliver("MCP CNF PWD=HELLO IP=10.0.0.1 RINT=25").reply == (
        "Parameter value incorrect"
    )
    assert meter.modem.deliver("MCP CNF PWD=HELL IP=10.0.0.1").reply == "Password incorrect"
    assert meter.session.meter.parameters == before
    assert meter.get(8195, CLIENT_CONNECTION, 2) == Data.visible_string("127.0.0.1")


def test_reset_restarts_the_module_30_s_of_meter_time_after_its_ok(meter: Stored) -> None:
    dropped: list[int] = []
    meter.modem.on_restart.append(lambda: dropped.append(meter.session.meter.now_ms))
    sent = meter.session.meter.now_ms
    assert meter.modem.deliver("MCP RESET PWD=HELLO").reply == "OK"
    assert not meter.modem.tick() and dropped == []
    meter.session.advance_to(sent + RESET_DELAY_MS - 1000)
    assert not meter.modem.tick() and dropped == []
    meter.session.advance_to(sent + RESET_DELAY_MS)
    assert meter.modem.tick()
    assert dropped == [sent + RESET_DELAY_MS] and meter.modem.restarts == 1
    assert meter.modem.started_ms == sent + RESET_DELAY_MS  # its timers count from here
    assert not meter.modem.tick() and meter.modem.reset_due_ms is None


def test_a_refused_commit_sends_no_reply_and_keeps_nothing(
    meter: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    session: Session = meter.session
    control = MeterControl.of(session, meter.modem)

    def refuse(*_args: object, **_kwargs: object) -> None:
        session.store.failure = "disk full"
        raise CommitError("disk full")

    monkeypatch.setattr(session.store, "commit", refuse)
    answer = control.deliver_sms(SmsBody(text="MCP CNF PWD=HELLO IP=10.9.9.9"))
    assert answer.status_code == 503 and "disk full" in json.loads(answer.body)["error"]
    assert f"{CLIENT_CONNECTION}/2" not in session.meter.parameters  # back to the last commit
    again = control.deliver_sms(SmsBody(text="MCP INFO PWD=HELLO"))
    assert again.status_code == 503 and "read-only" in json.loads(again.body)["error"]


# -- properties on the real module binding ---------------------------------------------------

_MODEL = load_model("metercom-pro")
_VALUES = {
    "APN": st.from_regex(r"[a-z0-9.\-]{1,50}", fullmatch=True),
    "DUSR": st.from_regex(r"[A-Za-z0-9 ]{0,24}", fullmatch=True),
    "DPWD": st.from_regex(r"[A-Za-z0-9 ]{0,24}", fullmatch=True),
    "IP": st.tuples(*[st.integers(1, 254)] * 4).map(lambda t: ".".join(map(str, t))),
    "PORT": st.integers(1, 65535).map(str),
    "RINT": st.integers(0, 24).map(str),
}


@given(
    st.dictionaries(st.sampled_from(sorted(_VALUES)), st.none()).flatmap(
        lambda names: st.fixed_dictionaries({name: _VALUES[name] for name in names})
    )
)
@settings(max_examples=200, deadline=None)
def test_any_valid_cnf_is_what_the_module_then_echoes(values: dict[str, str]) -> None:
    module = McpModule(Meter(_MODEL.spec, T0, "12345678"), _MODEL)
    before = module.settings()
    text = render(SmsCommand(Command.CNF, "HELLO", tuple(values.items())))
    outcome = handle(text, module)
    if len(text) > 160:
        assert outcome.reply == "Unknown command" and module.settings() == before
        return
    assert outcome.error is None and outcome.configured == bool(values)
    assert module.settings() == before | values
    assert outcome.reply == settings_reply(before | values)


@given(st.text(max_size=170))
@settings(max_examples=300, deadline=None)
def test_random_text_on_the_real_module_never_raises(text: str) -> None:
    module = McpModule(Meter(_MODEL.spec, T0, "12345678"), _MODEL)
    outcome = handle(text, module)
    assert outcome.reply
