"""Firmware fault injection on `metertwin run` as a user starts it (issue 15, "Fault
injection"): meter-side faults armed through the control API (`POST /faults/firmware`),
client-side faults sent by our own DLMS client (blocks lost, duplicated, out of order, one
corrupted) and spoilt images through `metertwin firmware upload`. Each ends in the state
class 18 defines or a rollback, the active version read back over DLMS, the firmware events
seen on the API's event stream; the meter serves throughout and never runs an unverified
image."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.cli.test_cli_firmware_upload import _setup
from tests.runtime.test_control_api import meter_with_api, request, watch

from metertwin.cli import main
from metertwin.codec.axdr import Data
from metertwin.codec.enums import ActionResult
from metertwin.codec.obis import Obis
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import ActionFailedError, DlmsConnectionError
from metertwin.dlms.client.image_transfer import IMAGE_TRANSFER, image_identifier
from metertwin.meter.firmware_image import build_image
from metertwin.sim import ScenarioError, WorldSite, load_scenario

FIRMWARE_VERSION = Obis(1, 0, 0, 2, 0)
BLOCK = 1024
WAIT_S = 60.0


class Meter:
    """`metertwin run` with the control API, its event stream watched from the start."""

    def __init__(self, dlms: str, api: str) -> None:
        self.dlms, self.api = dlms, api
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=watch, args=(api, self.events), daemon=True).start()
        assert self.events.get(timeout=WAIT_S) == {"opened": True}

    def client(self) -> DlmsClient:
        host, port = self.dlms.rsplit(":", 1)
        return DlmsClient().connect(host, int(port), client_sap=1, password=b"00000002")

    def status_and_version(self) -> tuple[int, bytes]:
        """Over DLMS, once no verification or activation runs (meter time goes on). A
        connection opened while a power cut's restart is still dropping connections goes
        with them, as on a real meter: it is opened again."""
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                with self.client() as meter:
                    status = meter.get(IMAGE_TRANSFER, 18, 6).as_int()
                    version = meter.get(FIRMWARE_VERSION, 1, 2).as_bytes()
            except DlmsConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            if status not in (2, 5) or time.monotonic() > deadline:
                return status, version
            time.sleep(0.2)

    def event_names(self) -> list[str]:
        names = []
        while True:
            try:
                names.append(self.events.get_nowait()["name"])
            except queue.Empty:
                return names

    def arm(self, kind: str) -> None:
        status, body = request(
            "POST", self.api + "/faults/firmware", f'{{"kind": "{kind}"}}'.encode()
        )
        assert status == 200 and kind in body["firmware"]["armed_faults"], body


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Meter, Path, Path]]:
    image, config = _setup(tmp_path, blocks=4)
    with meter_with_api(tmp_path / "meter", "--config", str(config)) as run:
        yield Meter(run.dlms, run.api), image, tmp_path / "keys" / "manufacturer-private.pem"


def _upload(meter: Meter, image: Path) -> int:
    return main(["firmware", "upload", meter.dlms, str(image)])


def test_a_power_cut_during_transfer_then_the_upload_resumes(
    running: tuple[Meter, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    meter, image, _key = running
    meter.arm("power-cut-during-transfer")
    assert _upload(meter, image) != 0  # the first block's answer was the meter dying
    assert meter.status_and_version() == (1, b"1.0.0")
    assert _upload(meter, image) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b4 blocks sent", out) and "activated: firmware 4.2.0" in out
    assert meter.status_and_version() == (6, b"4.2.0")
    names = meter.event_names()
    assert names.count("power_down") == names.count("power_up") == 1
    assert "firmware_ready" in names and "firmware_activated" in names


def test_a_power_cut_during_verify_verifies_again_and_the_next_upload_activates(
    running: tuple[Meter, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    meter, image, _key = running
    meter.arm("power-cut-during-verify")
    assert _upload(meter, image) != 0  # the restart dropped the connection mid-verify
    assert meter.status_and_version() == (3, b"1.0.0")  # verified after the power-up
    assert _upload(meter, image) == 0
    out = capsys.readouterr().out
    assert "0 blocks sent, verified" in out and "activated: firmware 4.2.0" in out
    names = meter.event_names()
    assert names.count("power_down") == 1 and names.count("firmware_ready") == 1


@pytest.mark.parametrize("kind", ["power-cut-during-activation", "fail-self-check"])
def test_an_activation_cut_or_a_failed_self_check_leaves_the_previous_image_running(
    running: tuple[Meter, Path, Path], kind: str
) -> None:
    meter, image, _key = running
    meter.arm(kind)
    assert _upload(meter, image) == 1  # "activation failed (image_transfer_status 7)"
    assert meter.status_and_version() == (7, b"1.0.0")
    names = meter.event_names()
    assert "program_memory_error" in names and "firmware_ready" in names
    if kind == "fail-self-check":  # it ran, failed its check, the previous one runs again
        assert names.index("program_memory_error") < names.index("firmware_activated")
    else:  # the half-switched slot never ran
        assert "firmware_activated" not in names and "power_down" in names
    status, body = request("GET", meter.api + "/faults/firmware")
    assert status == 200 and body["armed_faults"] == [] and body["active_version"] == "1.0.0"


def test_lost_duplicated_out_of_order_and_corrupted_blocks_from_a_client(
    running: tuple[Meter, Path, Path],
) -> None:
    meter, image_path, _key = running
    image = image_path.read_bytes()

    def send(client: DlmsClient, number: int, value: bytes | None = None) -> None:
        chunk = image[number * BLOCK : (number + 1) * BLOCK] if value is None else value
        client.action(
            IMAGE_TRANSFER,
            18,
            2,
            Data.structure([Data.double_long_unsigned(number), Data.octet_string(chunk)]),
        )

    def verify(client: DlmsClient) -> int:
        with pytest.raises(ActionFailedError) as busy:
            client.action(IMAGE_TRANSFER, 18, 3, Data.integer(0))
        assert busy.value.result is ActionResult.TEMPORARY_FAILURE
        client.close()
        return meter.status_and_version()[0]

    identify = Data.structure(
        [Data.octet_string(image_identifier(image)), Data.double_long_unsigned(len(image))]
    )
    client = meter.client()
    client.action(IMAGE_TRANSFER, 18, 1, identify)
    for number in (3, 0, 0, 3):  # out of order, duplicated; 1 and 2 lost
        send(client, number)
    assert client.get(IMAGE_TRANSFER, 18, 4).as_int() == 1
    assert verify(client) == 4  # incomplete: verification failed
    client = meter.client()
    spoilt = bytearray(image[BLOCK : 2 * BLOCK])
    spoilt[5] ^= 0x01
    send(client, 1, bytes(spoilt))  # corrupted on the way
    send(client, 2)
    assert verify(client) == 4  # the hash does not match
    client = meter.client()
    send(client, 1)  # sent again, right this time
    assert verify(client) == 3
    assert meter.status_and_version() == (3, b"1.0.0")  # verified, never run before activation
    assert meter.event_names().count("program_memory_error") == 2


@pytest.mark.parametrize("spoil", ["wrong signature", "another model"])
def test_a_wrong_signature_or_another_models_image_fails_verification(
    running: tuple[Meter, Path, Path], tmp_path: Path, spoil: str
) -> None:
    meter, _image, key_path = running
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    if spoil == "wrong signature":
        key = ec.generate_private_key(ec.SECP256R1())
    image = tmp_path / "spoilt.bin"
    model = "magno22" if spoil == "another model" else "pmm1220"
    image.write_bytes(build_image(model, "9.9.9", bytes(3 * BLOCK), key))
    assert _upload(meter, image) == 1
    assert meter.status_and_version() == (4, b"1.0.0")
    names = meter.event_names()
    assert "program_memory_error" in names and "firmware_activated" not in names


def test_a_scenarios_firmware_fault_strikes_the_meter_it_creates(
    tmp_path: Path,
) -> None:
    image, config = _setup(tmp_path, blocks=2)
    scenario = tmp_path / "bad-upgrade.toml"
    scenario.write_text(
        'kind = "constant"\nfirmware_faults = ["power-cut-during-activation"]\n',
        encoding="utf-8",
    )
    options = ("--config", str(config), "--scenario", str(scenario))
    with meter_with_api(tmp_path / "meter", *options) as run:
        meter = Meter(run.dlms, run.api)
        assert request("GET", meter.api + "/faults/firmware")[1]["armed_faults"] == [
            "power-cut-during-activation"
        ]
        assert _upload(meter, image) == 1
        assert meter.status_and_version() == (7, b"1.0.0")
        assert "power_down" in meter.event_names()


def test_an_unknown_fault_is_refused_by_the_api_and_the_scenario(
    running: tuple[Meter, Path, Path], tmp_path: Path
) -> None:
    meter = running[0]
    status, body = request("POST", meter.api + "/faults/firmware", b'{"kind": "meteor"}')
    assert status == 422 and "unknown firmware fault 'meteor'" in body["error"]
    status, body = request("POST", meter.api + "/faults/firmware", b'{"what": 1}')
    assert status == 422 and "kind" in body["error"]
    site = WorldSite(phases=1, nominal_voltage_v=230.0, frequency_hz=50.0, utc_offset_minutes=0)
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "constant"\nfirmware_faults = ["meteor"]\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="firmware_faults: expected some of"):
        load_scenario(str(bad), site)
