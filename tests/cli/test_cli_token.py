"""`metertwin token generate` and `metertwin token enter` (issue 4 items 3, 5 and 6): vend a
token as the user's [sts] identity says, enter it into a running meter over a real socket."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.cli.running import meter_running
from tests.sts.sts_fixtures import TEST_TABLES, VENDING_KEY_DKGA02, VENDING_KEY_DKGA04

from metertwin.cli import main
from metertwin.models import load_model
from metertwin.sts import (
    BaseDate,
    CreditKind,
    CreditToken,
    Dkga,
    EncryptionAlgorithm,
    KeyType,
    MeterKey,
    MeterTestToken,
    SetMaximumPowerLimit,
    decode_token,
    tid_from_datetime,
)
from metertwin.sts_identity import DEMO_VENDING_KEY, meter_key_from_config


def metertwin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _demo_key(serial: str = "00000001") -> MeterKey:
    return MeterKey.from_vending_key(
        DEMO_VENDING_KEY,
        drn=serial.zfill(11),
        key_type=KeyType.DUTK,
        sgc=100001,
        ti=1,
        krn=1,
        base_date=BaseDate.Y2014,
        ea=EncryptionAlgorithm.EA11,
        dkga=Dkga.DKGA04,
    )


def test_generate_a_currency_credit_token_for_the_demo_identity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = metertwin(
        capsys, "token", "generate", "--class", "0", "--amount", "25", "--time", "2026-11-21T10:00"
    )
    assert code == 0
    token = decode_token(out.strip(), _demo_key())
    when = datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert token == CreditToken(
        kind=CreditKind.ELECTRICITY_CURRENCY,
        tid=tid_from_datetime(when, BaseDate.Y2014),
        amount_tenths=250,
    )


def test_generate_follows_the_model_wallet_and_management_classes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = metertwin(
        capsys, "token", "generate", "--model", "az3p", "--class", "0", "--amount", "12.5"
    )
    token = decode_token(out.strip(), _demo_key())
    assert isinstance(token, CreditToken) and token.kind is CreditKind.ELECTRICITY
    assert token.amount_tenths == 125
    code, out, _ = metertwin(
        capsys, "token", "generate", "--class", "2", "--subclass", "0", "--value", "4000"
    )
    assert code == 0
    limit = decode_token(out.strip(), _demo_key())
    assert isinstance(limit, SetMaximumPowerLimit) and limit.maximum_power_w == 4000
    _code, out, _ = metertwin(capsys, "token", "generate", "--class", "1")
    assert isinstance(decode_token(out.strip(), _demo_key()), MeterTestToken)


def test_generate_with_an_sts_section_ea11_and_ea07(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The [sts] keys of issue 4 item 3, with the public compliance-test vending keys."""
    config = tmp_path / "meter.toml"
    config.write_text(
        "[sts]\n"
        'dkga = "04"\nea = "11"\n'
        f'vending_key = "{VENDING_KEY_DKGA04.hex()}"\n'
        'iin = "600727"\ndrn = "00000000000"\nkey_type = 2\nsgc = 123457\nti = 1\nkrn = 1\n'
        'ken = 255\nbase_date = "2014"\n'
    )
    code, out, _ = metertwin(
        capsys, "token", "generate", "--config", str(config), "--class", "0", "--amount", "1"
    )
    key = meter_key_from_config(
        {
            "vending_key": VENDING_KEY_DKGA04.hex(),
            "drn": "00000000000",
            "sgc": 123457,
            "base_date": "2014",
        },
        "test",
        "x",
    )
    assert code == 0 and decode_token(out.strip(), key).token_class == 0
    (tmp_path / "tables.txt").write_text(TEST_TABLES.to_text())
    config.write_text(
        '[sts]\ndkga = "02"\nea = "07"\n'
        f'vending_key = "{VENDING_KEY_DKGA02.hex()}"\n'
        'drn = "00000000000"\nsgc = 123456\nbase_date = "2014"\nea07_tables = "tables.txt"\n'
    )
    code, out, _ = metertwin(
        capsys, "token", "generate", "--config", str(config), "--class", "0", "--amount", "3"
    )
    ea07 = MeterKey.from_vending_key(
        VENDING_KEY_DKGA02,
        drn="00000000000",
        key_type=KeyType.DUTK,
        sgc=123456,
        ti=1,
        krn=1,
        base_date=BaseDate.Y2014,
        ea=EncryptionAlgorithm.EA07,
        dkga=Dkga.DKGA02,
        ea07_tables=TEST_TABLES,
    )
    token = decode_token(out.strip(), ea07)
    assert isinstance(token, CreditToken) and token.amount_tenths == 30


@pytest.mark.parametrize(
    ("argv", "config", "message"),
    [
        (["--class", "0"], None, "--amount is needed"),
        (["--class", "0", "--amount", "0.05"], None, "in steps of 0.1"),
        (["--class", "0", "--amount", "-3"], None, "--amount"),
        (["--class", "0", "--amount", "1", "--time", "2010-01-01T00:00"], None, "TID range"),
        (["--class", "2", "--subclass", "9"], None, "--subclass"),
        (["--class", "0", "--amount", "1"], '[sts]\nvending_key = "abc"\n', "sts.vending_key"),
        (["--class", "0", "--amount", "1"], '[sts]\ndkga = "05"\n', "sts.dkga"),
        (["--class", "0", "--amount", "1"], '[sts]\ndrn = "12"\n', "sts.drn"),
        (["--class", "0", "--amount", "1"], '[sts]\ncolour = "red"\n', "sts.colour"),
        (
            ["--class", "0", "--amount", "1"],
            '[sts]\nea = "07"\ndkga = "02"\nvending_key = "abababababababab"\n',
            "ea07_tables",
        ),
        (
            ["--class", "0", "--amount", "1"],
            '[sts]\nea07_tables = "missing.txt"\nvending_key = "ab"\n',
            "sts.ea07_tables",
        ),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    config: str | None,
    message: str,
) -> None:
    extra = []
    if config is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config)
        extra = ["--config", str(path)]
    code, out, err = metertwin(capsys, "token", "generate", *extra, *argv)
    assert code == 2 and out == ""
    assert err.startswith("metertwin: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_enter_a_token_into_a_running_meter(
    running_meter: int, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"127.0.0.1:{running_meter}"
    code, token, _ = metertwin(
        capsys, "token", "generate", "--class", "0", "--amount", "25", "--time", "2026-11-21T09:00"
    )
    spaced = " ".join(token.strip()[i : i + 4] for i in range(0, 20, 4))
    code, out, _ = metertwin(capsys, "token", "enter", target, spaced)
    assert code == 0
    assert out.splitlines()[0] == "accepted: credit +25.00 SAR"
    assert out.splitlines()[1].startswith("available credit: 2")
    code, out, err = metertwin(capsys, "token", "enter", target, token.strip())
    assert code == 1 and out.startswith("validation failure: Used")
    assert err == "metertwin: the meter refused the token\n"
    code, out, _err = metertwin(capsys, "token", "enter", target, "1234")
    assert code == 1 and out.startswith("format failure: Format")
    code, out, _err = metertwin(capsys, "read", target, "0.0.19.40.0.255:6", "--client", "1",
                               "--password", "00000002")  # fmt: skip
    assert code == 0 and out.strip().endswith("= {4, }")  # token_status: format failure


def test_enter_into_no_meter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = metertwin(capsys, "token", "enter", "127.0.0.1:1", "0" * 20)
    assert code == 2 and err.startswith("metertwin: error:")


def test_generate_says_the_amount_a_token_actually_carries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Above 1638.3 a token carries amounts in steps of 1 (IEC 62055-41 amount field, 14-bit
    mantissa): 2000 becomes 2000.4, rounded up, and the vending side is told so."""
    code, out, err = metertwin(
        capsys,
        "token",
        "generate",
        "--class",
        "0",
        "--amount",
        "2000",
        "--time",
        "2026-11-21T10:00",
    )
    assert code == 0
    token = decode_token(out.strip(), _demo_key())
    assert isinstance(token, CreditToken) and token.amount_tenths == 20004
    assert err == "metertwin: the token carries 2000.4 SAR (--amount 2000 rounded up)\n"
    code, out, err = metertwin(capsys, "token", "generate", "--class", "0", "--amount", "25")
    assert (code, err) == (0, "metertwin: the token carries 25.0 SAR\n")
    code, out, err = metertwin(
        capsys, "token", "generate", "--model", "az3p", "--class", "0", "--amount", "12.5"
    )
    assert (code, err) == (0, "metertwin: the token carries 12.5 kWh\n")


@pytest.mark.parametrize("token_class", ["0", "1", "2"])
def test_generate_refuses_a_meter_without_a_wallet(
    capsys: pytest.CaptureFixture[str], token_class: str
) -> None:
    code, out, err = metertwin(
        capsys, "token", "generate", "--model", "metercom-pro", "--class", token_class,
        "--amount", "1", "--subclass", "1",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "metertwin: error: metercom-pro has no wallet and no token gateway: it takes no tokens\n"
    )


@pytest.mark.parametrize(("model", "unit"), [("magno22", "EUR"), ("az3p", "kWh")])
def test_enter_opens_the_token_association_of_the_meter_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, unit: str
) -> None:
    """No --client/--password: the meter's logical device name (MAG..., AZE...) tells its
    model, whose token association (magno22: utility, client 48, 22222222; az3p: client 1,
    12345678; docs/dlms.md) enters the token; pmm1220's secret would be refused."""
    _code, token, _ = metertwin(
        capsys, "token", "generate", "--model", model, "--class", "0", "--amount", "5",
        "--time", "2026-11-21T09:00",
    )  # fmt: skip
    with meter_running(tmp_path / model, model) as port:
        code, out, err = metertwin(capsys, "token", "enter", f"127.0.0.1:{port}", token.strip())
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"accepted: credit +5.00 {unit}"


def test_a_lockout_says_how_long_it_may_last_not_wrong_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """magno22: 3 wrong secrets in a row lock the utility association for 30 minutes of meter
    time (docs/dlms.md); the meter answers the lock rejected-transient, so the CLI says it is
    locked, for up to 30 minutes (the AARE carries no time left), even with the right secret."""
    with meter_running(tmp_path / "magno22", "magno22") as port:
        target = f"127.0.0.1:{port}"
        for _ in range(3):
            code, out, err = metertwin(
                capsys, "token", "enter", target, "0" * 20, "--password", "x"
            )
            assert (code, out) == (1, "")
            assert "wrong secret for the utility association (client 48) of magno22" in err
            assert "locked for" not in err
        code, out, err = metertwin(capsys, "token", "enter", target, "0" * 20)
    assert (code, out) == (1, "")
    assert "is locked for up to 30 more minutes" in err
    assert "wrong password?" not in err and "wrong secret for" not in err
    assert len(err.strip().splitlines()) == 1


def test_enter_refuses_a_meter_whose_model_it_cannot_tell_before_any_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A meter named by no built-in model's logical device name: no secret is guessed (each
    wrong one brings a lockout closer); the message names the options of each model."""
    text = load_model("pmm1220").text.replace('"PMM{serial}"', '"XYZ{serial}"')
    assert "XYZ{serial}" in text
    (tmp_path / "other.toml").write_text(text)
    with meter_running(tmp_path / "other", str(tmp_path / "other.toml")) as port:
        target = f"127.0.0.1:{port}"
        code, out, err = metertwin(capsys, "token", "enter", target, "0" * 20)
        assert (code, out) == (2, "")
        assert "fits no built-in model" in err
        assert "magno22: --client 48 --password 22222222" in err
        # As the model file says, --model pmm1220 is right: the token reaches the gateway.
        code, out, _ = metertwin(capsys, "token", "enter", target, "1234", "--model", "pmm1220")
    assert (code, out.split(":")[0]) == (1, "format failure")


def test_enter_into_a_meter_without_a_token_gateway_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with meter_running(tmp_path / "m", "metercom-pro") as port:
        code, out, err = metertwin(capsys, "token", "enter", f"127.0.0.1:{port}", "0" * 20)
    assert (code, out) == (1, "")
    assert err == (
        "metertwin: error: metercom-pro has no wallet and no token gateway: it takes no tokens\n"
    )
