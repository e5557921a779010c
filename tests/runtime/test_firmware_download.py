"""The MeterCom PRO way of upgrading (issue 15 item 4, seed 004 §5.2): a SET of the URL in
0.0.44.0.0.255 makes the module download the image over HTTP/1.1 from a local server, verify
it, restart into it and show its version in 0.0.96.1.5.255; redirects, chunked encoding, a
dropped connection resumed with a Range from the bytes already committed, a killed module
resuming the same way; an HTTP/1.0 server, error statuses, redirect loops and a corrupt image
refused with the old version kept."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.helpers import utc_ms
from tests.runtime.image_server import Served, image_server

from metertwin.codec.axdr import Data
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.codec.xdlms_types import AttributeDescriptor
from metertwin.config import UserConfig
from metertwin.cosem.access import AssociationContext
from metertwin.cosem.errors import CosemError
from metertwin.meter.firmware import BLOCK_SIZE, Firmware, TransferStatus
from metertwin.meter.firmware_download import MAX_ATTEMPTS, RETRY_DELAY_MS, DownloadState
from metertwin.meter.firmware_image import build_image
from metertwin.models.binder import build_logical_device
from metertwin.runtime.firmware_download import MAX_REDIRECTS, FirmwareDownloader
from metertwin.runtime.session import SIMULATED, open_session

T0 = utc_ms(2026, 6, 1, 10)
UTILITY = 1  # metercom-pro's management client
URL_OBJECT = Obis(0, 0, 44, 0, 0)
STATUS_OBJECT = Obis(0, 0, 44, 0, 128)
MODULE_VERSION = Obis(0, 0, 96, 1, 5)
MODULE_ID = Obis(1, 1, 0, 2, 0)
PAYLOAD = bytes(range(256)) * 80  # 20 KiB: with header and signature, a short last block


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test run in its own event loop (the meter's, as `metertwin run` has one)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Module:
    """A stored metercom-pro meter as `metertwin run` serves it, with its downloader."""

    def __init__(self, directory: Path, keys: Path) -> None:
        config = UserConfig(
            firmware={
                "manufacturer_key": str(keys / "public.pem"),
                "download_hosts": ["127.0.0.1"],
            }
        )
        self.session = open_session(
            directory, "metercom-pro", config, "idle", None, lambda _m: T0, SIMULATED, "12345678"
        )
        session = self.session
        self.device = build_logical_device(session.model, session.meter, session.commit)
        policy = self.device.association_policy(UTILITY)
        assert policy is not None
        self.context = AssociationContext(policy, UTILITY, 1, policy.conformance, 1024, 1024, True)
        self.downloader = FirmwareDownloader(session, timeout_s=10)

    @property
    def firmware(self) -> Firmware:
        return self.session.meter.firmware

    def set_url(self, url: str | Data) -> None:
        value = Data.octet_string(url.encode()) if isinstance(url, str) else url
        self.device.set(self.context, AttributeDescriptor(1, URL_OBJECT, 2), None, value)

    def get(self, obis: Obis) -> Data:
        return self.device.get(self.context, AttributeDescriptor(1, obis, 2), None)

    def version(self) -> bytes:
        return self.get(MODULE_VERSION).as_bytes()

    def status(self) -> list[int]:
        return [item.as_int() for item in self.get(STATUS_OBJECT).as_items()[:5]]

    async def run_until(self, done: Callable[[], bool], step_ms: int = 5_000) -> None:
        """The serving loop: tick, let the I/O run, advance meter time; until ``done``."""
        for _ in range(2_000):  # a bound, not a timing: far more turns than any case needs
            if done():
                return
            self.downloader.tick()
            await asyncio.sleep(0.002)
            self.session.advance_to(self.session.meter.now_ms + step_ms)
        raise AssertionError("the download never got there")

    def installed(self) -> bool:
        return self.firmware.status in (
            TransferStatus.ACTIVATION_SUCCESSFUL,
            TransferStatus.ACTIVATION_FAILED,
            TransferStatus.VERIFICATION_FAILED,
        )

    def ended(self) -> bool:
        return self.firmware.download.state is DownloadState.FAILED or self.installed()

    async def close(self) -> None:
        await self.downloader.stop()
        self.session.close()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    (folder / "private.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return folder


def _image(keys: Path, version: str = "2.1.0", model: str = "metercom-pro") -> bytes:
    key = serialization.load_pem_private_key((keys / "private.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return build_image(model, version, PAYLOAD, key)


async def _upgrade(tmp_path: Path, keys: Path, served: Served, path: str = "/fw.bin") -> Module:
    module = Module(tmp_path / "meter", keys)
    with image_server(served) as port:
        assert module.version() == b"1.0.0"
        module.set_url(f"http://127.0.0.1:{port}{path}")
        await module.run_until(module.ended)
    return module


@run_async
async def test_a_set_of_the_url_downloads_verifies_restarts_and_shows_the_new_version(
    tmp_path: Path, keys: Path
) -> None:
    image = _image(keys)
    served = Served({"/fw.bin": image})
    module = await _upgrade(tmp_path, keys, served)
    assert module.version() == b"2.1.0"
    assert module.get(MODULE_ID).as_bytes() == b"2.1.0"  # the module firmware ID follows it
    assert module.firmware.restarts == 1  # `metertwin run` drops its connections then
    assert module.status() == [
        DownloadState.INSTALLING,
        TransferStatus.ACTIVATION_SUCCESSFUL,
        len(image),
        len(image),
        0,
    ]
    assert served.requests == [("/fw.bin", None)]
    assert module.get(URL_OBJECT).as_bytes().endswith(b"/fw.bin")
    await module.close()


@run_async
async def test_a_chunked_answer_is_downloaded_the_same(tmp_path: Path, keys: Path) -> None:
    served = Served({"/fw.bin": _image(keys)}, chunked=True)
    module = await _upgrade(tmp_path, keys, served)
    assert module.version() == b"2.1.0"
    await module.close()


@run_async
async def test_a_redirect_is_followed(tmp_path: Path, keys: Path) -> None:
    served = Served({"/v2/fw.bin": _image(keys)}, redirects={"/latest": "/v2/fw.bin"})
    module = await _upgrade(tmp_path, keys, served, "/latest")
    assert module.version() == b"2.1.0"
    assert [path for path, _ in served.requests] == ["/latest", "/v2/fw.bin"]
    await module.close()


@run_async
async def test_a_redirect_loop_ends_in_a_failure_at_once(tmp_path: Path, keys: Path) -> None:
    served = Served(redirects={"/a": "/b", "/b": "/a"})
    module = await _upgrade(tmp_path, keys, served, "/a")
    assert module.version() == b"1.0.0"
    assert module.status()[0] == DownloadState.FAILED
    assert "redirects" in module.firmware.download.last_failure
    assert len(served.requests) == MAX_REDIRECTS + 1
    await module.close()


@run_async
async def test_a_dropped_connection_resumes_from_the_first_byte_not_committed(
    tmp_path: Path, keys: Path
) -> None:
    image = _image(keys)
    served = Served({"/fw.bin": image}, drop_after=10 * BLOCK_SIZE + 500)
    module = await _upgrade(tmp_path, keys, served)
    # the 500 bytes past the last whole block were not committed: asked again
    assert served.ranges() == [None, f"bytes={10 * BLOCK_SIZE}-"]
    assert module.version() == b"2.1.0"
    await module.close()


@run_async
async def test_a_module_killed_mid_download_resumes_with_a_range(
    tmp_path: Path, keys: Path
) -> None:
    """The download's blocks are committed as they arrive: the module restarted from its
    memory asks only for the rest."""
    image = _image(keys)
    served = Served({"/fw.bin": image}, stall_after=12 * BLOCK_SIZE + 100)
    with image_server(served) as port:
        module = Module(tmp_path / "meter", keys)
        module.set_url(f"http://127.0.0.1:{port}/fw.bin")
        await module.run_until(lambda: module.firmware.download.received == 12 * BLOCK_SIZE)
        await module.close()  # the power goes: the attempt dies with the process
        again = Module(tmp_path / "meter", keys)
        assert sorted(again.session.store.image_blocks()) == list(range(12))
        await again.run_until(again.ended)
    assert served.ranges() == [None, f"bytes={12 * BLOCK_SIZE}-"]
    assert again.version() == b"2.1.0"
    await again.close()


@run_async
async def test_an_http_1_0_server_is_refused_and_nothing_is_downloaded(
    tmp_path: Path, keys: Path
) -> None:
    served = Served({"/fw.bin": _image(keys)})
    module = Module(tmp_path / "meter", keys)
    with image_server(served, version="HTTP/1.0") as port:
        module.set_url(f"http://127.0.0.1:{port}/fw.bin")
        await module.run_until(module.ended)
    assert module.status()[0] == DownloadState.FAILED
    assert "HTTP/1.0" in module.firmware.download.last_failure
    assert len(served.requests) == 1  # refused for good: never tried again
    assert module.session.store.image_blocks() == {}
    assert module.version() == b"1.0.0"
    await module.close()


@pytest.mark.parametrize("status", [404, 500])
@run_async
async def test_an_error_status_is_retried_on_meter_time_then_fails(
    tmp_path: Path, keys: Path, status: int
) -> None:
    served = Served(statuses={"/fw.bin": status})
    module = Module(tmp_path / "meter", keys)
    with image_server(served) as port:
        module.set_url(f"http://127.0.0.1:{port}/fw.bin")
        began = module.session.meter.now_ms
        await module.run_until(module.ended)
    assert len(served.requests) == MAX_ATTEMPTS
    assert module.session.meter.now_ms - began >= (MAX_ATTEMPTS - 1) * RETRY_DELAY_MS
    assert module.status()[0] == DownloadState.FAILED
    assert str(status) in module.firmware.download.last_failure
    assert module.version() == b"1.0.0"
    await module.close()


@run_async
async def test_a_corrupt_image_is_refused_by_verification_and_the_old_version_kept(
    tmp_path: Path, keys: Path
) -> None:
    image = bytearray(_image(keys))
    image[200] ^= 0x01  # a payload byte: the signature no longer verifies
    module = await _upgrade(tmp_path, keys, Served({"/fw.bin": bytes(image)}))
    assert module.status()[:2] == [DownloadState.INSTALLING, TransferStatus.VERIFICATION_FAILED]
    assert module.version() == b"1.0.0"
    assert module.firmware.restarts == 0
    await module.close()


@run_async
async def test_an_image_for_another_model_is_refused_by_verification(
    tmp_path: Path, keys: Path
) -> None:
    served = Served({"/fw.bin": _image(keys, model="pmm1220")})
    module = await _upgrade(tmp_path, keys, served)
    assert module.firmware.status is TransferStatus.VERIFICATION_FAILED
    assert "pmm1220" in module.firmware.last_failure
    assert module.version() == b"1.0.0"
    await module.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/fw.bin",  # no TLS in the module
        "ftp://127.0.0.1/fw.bin",
        "http://10.1.2.3/fw.bin",  # not a configured host
        "not a url",
        "",
    ],
)
@run_async
async def test_a_url_the_module_cannot_use_is_refused_and_changes_nothing(
    tmp_path: Path, keys: Path, url: str
) -> None:
    module = Module(tmp_path / "meter", keys)
    with pytest.raises(CosemError) as refused:
        module.set_url(url)
    assert refused.value.result is DataAccessResult.OTHER_REASON
    assert module.get(URL_OBJECT).as_bytes() == b""
    assert module.status()[0] == DownloadState.IDLE
    with pytest.raises(CosemError) as typed:
        module.set_url(Data.double_long_unsigned(5))
    assert typed.value.result is DataAccessResult.TYPE_UNMATCHED
    await module.close()


@run_async
async def test_a_set_while_the_image_is_verified_answers_temporary_failure(
    tmp_path: Path, keys: Path
) -> None:
    served = Served({"/fw.bin": _image(keys)})
    module = Module(tmp_path / "meter", keys)
    with image_server(served) as port:
        url = f"http://127.0.0.1:{port}/fw.bin"
        module.set_url(url)
        await module.run_until(
            lambda: module.firmware.status is TransferStatus.VERIFICATION_INITIATED, step_ms=0
        )
        with pytest.raises(CosemError) as busy:
            module.set_url(url)
        assert busy.value.result is DataAccessResult.TEMPORARY_FAILURE
        await module.run_until(module.ended)
    assert module.version() == b"2.1.0"
    await module.close()


@run_async
async def test_a_new_url_set_mid_download_replaces_the_stalled_one(
    tmp_path: Path, keys: Path
) -> None:
    """The operator corrects the URL while the first server hangs: the hanging attempt is
    stopped, its blocks dropped, and the new image comes from its first byte."""
    served = Served(
        {"/old.bin": _image(keys, "2.0.0"), "/new.bin": _image(keys, "2.2.0")},
        stall_after=3 * BLOCK_SIZE,
    )
    module = Module(tmp_path / "meter", keys)
    with image_server(served) as port:
        module.set_url(f"http://127.0.0.1:{port}/old.bin")
        await module.run_until(lambda: module.firmware.download.received == 3 * BLOCK_SIZE)
        served.stall_after = None
        module.set_url(f"http://127.0.0.1:{port}/new.bin")
        assert module.firmware.download.received == 0
        stalled = module.downloader.task
        assert stalled is not None
        module.downloader.tick()
        with contextlib.suppress(asyncio.CancelledError):
            await stalled
        assert stalled.cancelled()  # stopped mid-read, not left to time out
        await module.run_until(module.ended)
    assert served.requests == [("/old.bin", None), ("/new.bin", None)]
    assert module.version() == b"2.2.0"
    await module.close()
