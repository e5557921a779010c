"""`metertwin set | action | clock | relay | billing` against a running meter (issue 11, item
18): each one changes what the meter reads back, a refusal by the meter exits 1 naming its DLMS
result, a bad input exits 2 naming the problem, before anything is written.

The meter is `metertwin run` of pmm1220 (control mode 6; associations public 16, reader 32
`00000001`, management 1 `00000002`: docs/dlms.md, "Addresses and associations").
"""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.cli.running import meter_running

from metertwin.cli import main
from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDateTime
from metertwin.dlms.client import DlmsClient

READER = ("--client", "32", "--password", "00000001")
MANAGEMENT = ("--client", "1", "--password", "00000002")
CLOCK = "0.0.1.0.0.255"
DISCONNECT_CONTROL = "0.0.96.3.10.255"
BILLING_PERIOD_COUNTER = "1.0.0.1.0.255"


def metertwin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def target(running_meter: int) -> str:
    return f"127.0.0.1:{running_meter}"


def _read(target: str, obis: str, class_id: int, attribute: int) -> Data:
    """What the meter holds, read by our client (management association: it reads all)."""
    host, port = target.rsplit(":", 1)
    with DlmsClient(timeout=10).connect(host, int(port), 1, 1, "00000002") as meter:
        return meter.get(obis, class_id, attribute)


def _clock(target: str) -> datetime:
    return CosemDateTime.from_bytes(_read(target, CLOCK, 8, 2).as_bytes()).to_datetime()


def _counter(target: str) -> int:
    return _read(target, BILLING_PERIOD_COUNTER, 1, 2).as_int()


def _relay(target: str) -> int:
    """control_state: 0 disconnected, 1 connected, 2 ready_for_reconnection (class 70)."""
    return _read(target, DISCONNECT_CONTROL, 70, 3).as_int()


def _refused(err: str, result: str) -> None:
    assert err.startswith("metertwin: error:") and err.rstrip().endswith(")")
    assert result in err and len(err.strip().splitlines()) == 1


# --- set -------------------------------------------------------------------------------------


def test_set_writes_the_attribute_as_its_type(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """230 is read as the attribute's double-long-unsigned (limiter 0.0.17.0.0.255 attribute 6,
    min_over_threshold_duration), JSON as the register monitor's thresholds array; both read
    back as written. Without --client the model's management association is found."""
    code, out, err = metertwin(capsys, "set", target, "0.0.17.0.0.255:6", "230")
    assert (code, out, err) == (0, "0.0.17.0.0.255:6 = 230\n", "")
    assert _read(target, "0.0.17.0.0.255", 71, 6) == Data.double_long_unsigned(230)
    code, out, _ = metertwin(capsys, "set", target, "0.0.16.0.3.255:2", "[400]", *MANAGEMENT)
    assert (code, out) == (0, "0.0.16.0.3.255:2 = [400]\n")
    assert _read(target, "0.0.16.0.3.255", 21, 2) == Data.array([Data.long(400)])


def test_set_the_clock_from_an_iso_literal(capsys: pytest.CaptureFixture[str], target: str) -> None:
    """An ISO date-time without an offset is the meter's local time (pmm1220: UTC+03:00)."""
    code, out, _ = metertwin(capsys, "set", target, f"{CLOCK}:2", "2026-12-02T10:00:00")
    assert (code, out) == (0, f"{CLOCK}:2 = 2026-12-02T10:00:00+03:00\n")
    now = _clock(target)
    assert datetime.fromisoformat("2026-12-02T10:00:00+03:00") <= now
    assert now < datetime.fromisoformat("2026-12-02T10:10:00+03:00")


def test_set_refused_by_the_meter_exits_1_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """The reader association may not write the clock (docs/dlms.md, rights profiles)."""
    code, out, err = metertwin(capsys, "set", target, f"{CLOCK}:2", "2031-01-01T00:00", *READER)
    assert code == 1 and out == ""
    _refused(err, "read-write-denied")
    assert _clock(target).year != 2031
    code, _out, err = metertwin(capsys, "set", target, "1.0.1.8.0.255:2", "0")
    assert code == 1  # energy registers are the meter's own count: no association writes them
    _refused(err, "read-write-denied")
    code, _out, err = metertwin(capsys, "set", target, "1.0.99.4.0.255:4", "60")
    assert code == 1  # not served to this association: a refusal, as `read` says (exit 1)
    assert "not in the object list of this association" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("0.0.17.0.0.255:6", "-5"), "outside the double-long-unsigned range"),
        (("0.0.17.0.0.255:6", "five"), "expected an integer for double-long-unsigned"),
        ((f"{CLOCK}:2", "tomorrow"), "not an ISO date-time: 'tomorrow'"),
        (("0.0.16.0.3.255:2", "[x]"), "not JSON"),
        (("0.0.1.0.0.256:2", "1"), "not an OBIS code: '0.0.1.0.0.256'"),
        ((CLOCK, "1"), "expected OBIS:ATTRIBUTE"),
        (("0.0.40.0.0.255:7", "secret"), 'give VALUE typed, e.g. {"octet-string"'),
        ((f"{CLOCK}:\u00b2", "1"), "expected OBIS:ATTRIBUTE"),  # a digit, not an ASCII one
        (("0.0.16.0.3.255:2", "[" * 3000 + "]" * 3000), "nested too deep"),
    ],
)
def test_set_with_a_bad_input_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], target: str, argv: tuple[str, ...], named: str
) -> None:
    before = _read(target, "0.0.17.0.0.255", 71, 6)
    code, out, err = metertwin(capsys, "set", target, *argv)
    assert code == 2 and out == ""
    assert err.startswith("metertwin: error:") and named in err
    assert len(err.strip().splitlines()) == 1
    assert _read(target, "0.0.17.0.0.255", 71, 6) == before


# --- action ----------------------------------------------------------------------------------


def test_action_executes_a_method_with_its_parameter_type(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """Script table execute takes a long-unsigned script identifier (reference/dlms.md, class
    9): "1" runs 0.0.10.0.1.255 script 1, the billing reset, so the billing period counter
    1.0.0.1.0.255 counts one more period."""
    before = _counter(target)
    code, out, _ = metertwin(capsys, "action", target, "0.0.10.0.1.255:1", "1")
    assert (code, out) == (0, "0.0.10.0.1.255:1 done\n")
    assert _counter(target) == before + 1


def test_action_refused_by_the_meter_exits_1(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    before = _counter(target)
    code, _out, err = metertwin(capsys, "action", target, "0.0.10.0.1.255:1", "1", *READER)
    assert code == 1
    _refused(err, "read-write-denied")
    code, _out, err = metertwin(capsys, "action", target, "0.0.10.0.1.255:1", "2")
    assert code == 1  # there is no script 2 (docs/dlms.md, "Scripts these objects can run")
    _refused(err, "object-unavailable")
    assert _counter(target) == before


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("0.0.10.0.1.255:1",), "takes a long-unsigned: give VALUE"),
        (("0.0.10.0.1.255:1", "x"), "expected an integer for long-unsigned, got 'x'"),
        (("0.0.10.0.1.255:1", "70000"), "outside the long-unsigned range"),
        (
            ("0.0.10.0.1.255:200", "1"),
            "method number 200 in '0.0.10.0.1.255:200' is outside 1..127",
        ),
        (("0.0.10.0.1.255",), "expected OBIS:METHOD"),
    ],
)
def test_action_with_a_bad_input_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], target: str, argv: tuple[str, ...], named: str
) -> None:
    before = _counter(target)
    code, out, err = metertwin(capsys, "action", target, *argv)
    assert code == 2 and out == ""
    assert err.startswith("metertwin: error:") and named in err
    assert _counter(target) == before


# --- clock -----------------------------------------------------------------------------------


def test_clock_set_and_sync(capsys: pytest.CaptureFixture[str], target: str) -> None:
    """`clock set` takes the time with an offset too; `clock sync` brings the meter to the
    host's time (the same instant, whatever the zones)."""
    code, out, _ = metertwin(capsys, "clock", "set", target, "2027-03-04T05:06:07+01:00")
    assert (code, out) == (0, f"{CLOCK}:2 = 2027-03-04T07:06:07+03:00\n")
    assert _clock(target).year == 2027
    host = datetime.now().astimezone()
    code, out, _ = metertwin(capsys, "clock", "sync", target)
    assert code == 0 and out.startswith(f"{CLOCK}:2 = ")
    assert host - timedelta(minutes=5) <= _clock(target) <= host + timedelta(minutes=5)


def test_clock_refusal_and_bad_time(capsys: pytest.CaptureFixture[str], target: str) -> None:
    code, _out, err = metertwin(capsys, "clock", "sync", target, "--client", "16")
    assert code == 1  # the public client reads the clock, never sets it
    _refused(err, "read-write-denied")
    code, out, err = metertwin(capsys, "clock", "set", target, "2026-13-01T00:00")
    assert code == 2 and out == "" and "month must be in 1..12" in err


# --- relay -----------------------------------------------------------------------------------


def test_relay_disconnect_and_connect(capsys: pytest.CaptureFixture[str], target: str) -> None:
    """remote_disconnect opens the relay (class 70 transition b); in pmm1220's control mode 6
    remote_reconnect arms it (transition d, ready_for_reconnection) for the customer's button
    (reference/dlms.md, class 70)."""
    code, out, _ = metertwin(capsys, "relay", "disconnect", target)
    assert (code, out) == (0, "relay: disconnected\n")
    assert _relay(target) == 0
    assert _read(target, DISCONNECT_CONTROL, 70, 2) == Data.boolean(False)
    code, out, _ = metertwin(capsys, "relay", "connect", target)
    assert code == 0 and out.startswith("relay: ready_for_reconnection (control mode 6")
    assert _relay(target) == 2


def test_relay_connect_closes_it_in_control_mode_4(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """In control modes 2 and 4 remote_reconnect closes the relay at once (transition a)."""
    assert metertwin(capsys, "set", target, f"{DISCONNECT_CONTROL}:4", "4")[0] == 0
    try:
        assert metertwin(capsys, "relay", "disconnect", target)[:2] == (0, "relay: disconnected\n")
        assert metertwin(capsys, "relay", "connect", target)[:2] == (0, "relay: connected\n")
        assert _read(target, DISCONNECT_CONTROL, 70, 2) == Data.boolean(True)
    finally:
        assert metertwin(capsys, "set", target, f"{DISCONNECT_CONTROL}:4", "6")[0] == 0


def test_relay_refusal_and_bad_target(capsys: pytest.CaptureFixture[str], target: str) -> None:
    before = _relay(target)
    code, _out, err = metertwin(capsys, "relay", "disconnect", target, *READER)
    assert code == 1
    _refused(err, "read-write-denied")
    assert _relay(target) == before
    code, _out, err = metertwin(capsys, "relay", "connect", target.rsplit(":", 1)[0])
    assert code == 2 and "expected HOST:PORT" in err


# --- billing ---------------------------------------------------------------------------------


def test_billing_reset_ends_the_billing_period(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """docs/dlms.md, "Billing": script 1 of 0.0.10.0.1.255 ends the billing period at once; the
    billing period counter counts it."""
    before = _counter(target)
    code, out, _ = metertwin(capsys, "billing", "reset", target)
    assert (code, out) == (0, f"billing period ended; billing period counter {before + 1}\n")
    assert _counter(target) == before + 1


def test_billing_reset_refused_and_bad_target(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    before = _counter(target)
    code, _out, err = metertwin(capsys, "billing", "reset", target, *READER)
    assert code == 1
    _refused(err, "read-write-denied")
    assert _counter(target) == before
    code, _out, err = metertwin(capsys, "billing", "reset", "127.0.0.1:0")
    assert code == 2 and "expected HOST:PORT" in err


# --- the README ------------------------------------------------------------------------------


def _readme_act_examples() -> list[str]:
    """The commands of README.md's "Acting on the meter" block, continuation lines joined."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("Acting on the meter", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_examples_work_on_the_default_meter(
    capsys: pytest.CaptureFixture[str], running_meter: int
) -> None:
    """Every acting example of the README, on `make run`'s meter (pmm1220 on 127.0.0.1:4059,
    here on the test's port): 0, or 1 where the README says the meter refuses it."""
    examples = _readme_act_examples()
    assert len(examples) >= 7
    for example in examples:
        argv = shlex.split(example, comments=True)
        assert argv[0] == ".venv/bin/metertwin", example
        argv = [arg.replace("127.0.0.1:4059", f"127.0.0.1:{running_meter}") for arg in argv[1:]]
        expected = 1 if "exit 1" in example else 0
        code, _out, err = metertwin(capsys, *argv)
        assert code == expected, (example, err)


def test_a_meter_of_no_built_in_model_needs_the_association_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A user's model with its own logical device name: the CLI cannot know its secrets, so
    it refuses before any secret is tried (no lockout try burnt) and says what to give."""
    assert main(["models", "show", "pmm1220"]) == 0
    text = capsys.readouterr().out.replace('"PMM{serial}"', '"ACME{serial}"')
    assert "ACME{serial}" in text
    (tmp_path / "acme.toml").write_text(text)
    with meter_running(tmp_path / "data", str(tmp_path / "acme.toml")) as port:
        code, out, err = metertwin(capsys, "relay", "disconnect", f"127.0.0.1:{port}")
        assert code == 2 and out == ""
        assert "is of no built-in model" in err and "--client N --password P" in err
        code, out, _err = metertwin(
            capsys, "relay", "disconnect", f"127.0.0.1:{port}", "--client", "1",
            "--password", "00000002",
        )  # fmt: skip
        assert code == 0 and out.startswith("relay: disconnected")
