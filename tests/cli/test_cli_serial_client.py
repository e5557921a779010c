"""`metertwin read` over ``serial://`` (issue 13, item 6): HDLC on a pty whose far end is the
sans-IO HdlcServerLink in a thread, bridged to a real `metertwin run` meter over the TCP
wrapper, so the CLI reads that meter's own values through the serial line."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from tests.cli.pty_line import pty_served
from tests.cli.running import meter_running
from tests.cli.test_cli_act import metertwin

from metertwin.dlms.client import WrapperLink
from metertwin.protocols.hdlc_link import (
    ApduReceived,
    HdlcServerLink,
    ServerLinkSettings,
    physical_address_for_serial,
)

SERIAL = "00000001"  # the default serial of `metertwin run`: physical address 1001
CLOCK = "0.0.1.0.0.255"


class Bridge:
    """HDLC on the line <-> the wrapper to the meter: each whole APDU is passed on with the
    HDLC client address as the wrapper's source wPort, and its answer passed back."""

    def __init__(self, wrapper_port: int) -> None:
        settings = ServerLinkSettings(physical_address=physical_address_for_serial(SERIAL))
        self.link = HdlcServerLink(settings)
        self.wrapper_port = wrapper_port
        self.sockets: dict[int, socket.socket] = {}

    def serve(self, data: bytes) -> bytes:
        output = self.link.receive(data, time.monotonic())
        answer = output.transmit
        for event in output.events:
            if isinstance(event, ApduReceived):
                answer += self.link.respond(self._forward(event.client, event.apdu))
        return answer

    def _forward(self, client: int, apdu: bytes) -> bytes:
        if client not in self.sockets:
            self.sockets[client] = socket.create_connection(("127.0.0.1", self.wrapper_port), 10)
        sock, link = self.sockets[client], WrapperLink(client, 1)
        sock.sendall(link.wrap(apdu))
        while True:
            answers = link.feed(sock.recv(65536))
            if answers:
                return answers[0]

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()


@pytest.fixture(scope="module")
def wrapper_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with meter_running(tmp_path_factory.mktemp("serial") / "pmm1220") as port:
        yield port


@pytest.fixture
def pty_meter(wrapper_port: int) -> Iterator[str]:
    bridge = Bridge(wrapper_port)
    try:
        with pty_served(bridge.serve) as path:
            yield path
    finally:
        bridge.close()


def test_read_the_clock_and_a_register_over_a_serial_line(
    capsys: pytest.CaptureFixture[str], pty_meter: str
) -> None:
    target = f"serial://{pty_meter}?baud=9600&address={SERIAL}"
    code, out, err = metertwin(capsys, "read", target, CLOCK)
    assert (code, err) == (0, ""), err
    assert out.startswith(f"{CLOCK}:2 (Clock) = 2026-11-21T")
    code, out, err = metertwin(capsys, "read", target, "0.0.42.0.0.255")
    assert (code, err) == (0, ""), err
    assert out == f"0.0.42.0.0.255:2 (Data) = PMM{SERIAL}\n"


def test_a_serial_line_that_cannot_be_opened_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = metertwin(capsys, "read", "serial:///dev/nonexistent-metertwin", CLOCK)
    assert (code, out) == (2, "")
    assert "cannot open /dev/nonexistent-metertwin at 9600 Bd" in err
