"""End to end: our CLI and client open the HLS associations of a meter started as a user
starts it (`metertwin run`), ciphered as docs/dlms.md says (0x40: HLS-GMAC, suite 0, policy
0x6C, the Green Book demo keys)."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.running import meter_running
from tests.cli.test_cli_act import metertwin as act
from tests.cli.test_cli_dlms import metertwin, one_error_line

from metertwin.codec.enums import AuthenticationMechanism
from metertwin.dlms.client import AsyncDlmsClient, ClientSecurity, DlmsClient
from metertwin.dlms.client.security import GREEN_BOOK_AK, GREEN_BOOK_EK

CLOCK = "0.0.1.0.0.255"


@pytest.fixture(scope="module")
def meter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A pmm1220 of its own (these tests set its clock)."""
    with meter_running(tmp_path_factory.mktemp("hls") / "pmm1220") as port:
        yield port


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Our invocation counters, one file for every test of the one meter (as a user's CLI
    keeps them), never in the user's home."""
    path = tmp_path_factory.mktemp("counters") / "invocation-counters.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METERTWIN_COUNTER_FILE", str(path))
        yield path


def test_read_the_clock_over_hls_gmac(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path
) -> None:
    code, out, err = metertwin(
        capsys, "read", f"127.0.0.1:{meter}", CLOCK, "--client", "0x40", "--auth", "gmac"
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"{CLOCK}:2 (Clock) = 2026-11-21T")


def test_without_auth_0x40_takes_the_models_hls_and_the_counter_resumes(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path
) -> None:
    """Twice in a row: the second run starts above every counter the first may have used,
    so the meter, which refuses a counter it has seen, takes it."""
    for _ in range(2):
        code, out, err = metertwin(capsys, "read", f"127.0.0.1:{meter}", CLOCK, "--client", "64")
        assert (code, err) == (0, ""), err
        assert "(Clock) = 2026-11-21T" in out
    assert counters.exists()


def test_a_reused_invocation_counter_is_refused_by_the_meter(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path
) -> None:
    read = ["read", f"127.0.0.1:{meter}", CLOCK, "--client", "0x40", "--auth", "gmac"]
    assert metertwin(capsys, *read, "--invocation-counter", "1000")[0] == 0
    code, out, err = metertwin(capsys, *read, "--invocation-counter", "1000")
    assert (code, out) == (1, "")
    assert "invocation counter it has seen" in one_error_line(err)


def test_wrong_keys_are_refused(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path
) -> None:
    code, out, err = metertwin(
        capsys,
        "read",
        f"127.0.0.1:{meter}",
        CLOCK,
        "--client",
        "0x40",
        "--auth",
        "gmac",
        "--key-ak",
        "00" * 16,
    )
    assert (code, out) == (1, "")
    assert "rejected-permanent" in one_error_line(err)


def test_profile_blocks_and_a_set_through_ciphering(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path
) -> None:
    """A day of the load profile comes in several ciphered blocks (the meter sends 1024 octets
    at most); a SET and its read back go through the same association."""
    target = f"127.0.0.1:{meter}"
    code, out, err = metertwin(
        capsys, "profile", target, "1.0.99.1.0.255", "--from", "now-1d", "--to", "now",
        "--client", "0x40", "--csv",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert out.splitlines()[0].startswith("0.0.1.0.0.255:2")
    code, out, err = act(capsys, "set", target, "0.0.17.0.0.255:6", "90", "--client", "0x40")
    assert (code, err) == (0, ""), err
    assert "90" in out


def test_general_glo_ciphering_with_our_client(meter: int) -> None:
    """general-glo-ciphering (DB) instead of the service-specific tags, from the library."""
    security = ClientSecurity(
        mechanism=AuthenticationMechanism.HIGH_GMAC,
        encryption_key=GREEN_BOOK_EK,
        authentication_key=GREEN_BOOK_AK,
        system_title=bytes.fromhex("4D54570000000042"),
        general_ciphering=True,
    )
    with DlmsClient().connect("127.0.0.1", meter, 0x40, security=security) as client:
        assert client.get(CLOCK, 8, 2).value[:2] == (2026).to_bytes(2, "big")
        assert len(client.object_list()) > 100  # long: ciphered blocks


def test_the_async_client_over_hls_gmac(meter: int) -> None:
    security = ClientSecurity(
        mechanism=AuthenticationMechanism.HIGH_GMAC,
        encryption_key=GREEN_BOOK_EK,
        authentication_key=GREEN_BOOK_AK,
        system_title=bytes.fromhex("4D54570000000043"),
    )

    async def read_clock() -> bytes:
        opening = AsyncDlmsClient().connect("127.0.0.1", meter, 0x40, security=security)
        async with opening as client:
            value = (await client.get(CLOCK, 8, 2)).value
            assert isinstance(value, bytes)
            return value

    assert asyncio.run(read_clock())[:2] == (2026).to_bytes(2, "big")


def _readme_hls_examples() -> list[str]:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("Over HLS-GMAC", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_hls_examples(
    capsys: pytest.CaptureFixture[str], meter: int, counters: Path, tmp_path: Path
) -> None:
    """The README's HLS block on `make run`'s meter (here on the test's port); its keys
    file is written where the example expects it."""
    examples = _readme_hls_examples()
    assert len(examples) >= 2
    keys = tmp_path / "keys.toml"
    keys.write_text('key-ek = "000102030405060708090A0B0C0D0E0F"\n'
                    'key-ak = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"\n')  # fmt: skip
    for example in examples:
        argv = shlex.split(example, comments=True)
        assert argv[0] == ".venv/bin/metertwin", example
        argv = [
            arg.replace("127.0.0.1:4059", f"127.0.0.1:{meter}").replace("keys.toml", str(keys))
            for arg in argv[1:]
        ]
        code, _out, err = metertwin(capsys, *argv)
        assert (code, err) == (0, ""), (example, err)
