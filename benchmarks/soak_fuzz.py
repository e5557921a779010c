"""Fuzzing campaign (issue 19, "a reliability campaign the project keeps"): mutated and random
octets into every parser that takes outside bytes, counted per parser.

A parser passes when it only ever refuses with its own error root (the wrapper's
``FramingError``, the DLMS codecs' ``DlmsDecodeError``, a ``TokenResult`` for STS digits) and
the sans-IO server never answers with its internal fault. The server is the real pmm1220
logical device over a real meter core, associated as the management client, so fuzzed SETs
and ACTIONs really change the meter: every few hundred frames the meter must still advance an
hour and survive a round trip through its saved state (a memory that loads must run).

Inputs are mutations of a corpus of valid octets (GET, SET with the values read, ACTION of
every object of the management association; reference frames of dlms.md 5), plus pure noise.
Everything is drawn from one seed: a crash is reproduced by the seed and frame number printed.

`python -m benchmarks.soak_fuzz [--frames N] [--seconds S] [--seed X]`
"""

from __future__ import annotations

import argparse
import logging
import random
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from benchmarks.common import header
from metertwin.codec import axdr
from metertwin.codec.axdr import Data
from metertwin.codec.cosem_datetime import CosemDate, CosemDateTime, CosemTime
from metertwin.codec.enums import ActionResult, DataAccessResult
from metertwin.codec.errors import DlmsDecodeError
from metertwin.dlms.apdu import (
    ActionRequestNormal,
    ActionResponseNormal,
    AttributeDescriptor,
    GetRequestNormal,
    GetResponseNormal,
    InvokeIdAndPriority,
    MethodDescriptor,
    SetRequestNormal,
    SetResponseNormal,
    decode_apdu,
)
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.server.connection import ServerConnection
from metertwin.dlms.server.session import INTERNAL_FAULT
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.models.binder import build_logical_device
from metertwin.protocols import FramingError
from metertwin.protocols.wrapper import WrapperDecoder, encode_frame
from metertwin.sts import BaseDate, CreditKind, CreditToken, encode_token, tid_from_datetime
from metertwin.sts.decoder import StsDecoder
from metertwin.sts_identity import meter_key_from_config

START_MS = 1_793_491_200_000  # 2026-11-01T00:00Z
MANAGEMENT_SAP, SERVER_SAP = 1, 1
INVOKE = InvokeIdAndPriority(1)
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x09, 0x0C, 0x16, 0x01, 0x02)
CHECK_EVERY = 400  # server frames between "the meter still advances and restarts"
DEFAULT_FRAMES = 1_000_000
DEFAULT_SECONDS = 120.0


@dataclass
class ParserFigures:
    """What one parser's campaign reached."""

    name: str
    frames: int = 0
    refused: int = 0
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Mutator:
    """Seeded mutations of a corpus: bit flips, interesting octets, inserts, deletions,
    truncation, duplication, splices and pure noise."""

    def __init__(self, corpus: Sequence[bytes], rng: random.Random) -> None:
        self.corpus = [bytes(c) for c in corpus if c]
        self.rng = rng

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield self.one()

    def one(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.08:
            return rng.randbytes(rng.randrange(0, 64))
        data = bytearray(rng.choice(self.corpus))
        for _ in range(1 + int(rng.expovariate(1.0))):
            self._mutate(data)
        return bytes(data)

    def _mutate(self, data: bytearray) -> None:
        rng = self.rng
        kind = rng.randrange(8)
        if not data:
            data.extend(rng.randbytes(rng.randrange(1, 8)))
            return
        at = rng.randrange(len(data))
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at] = rng.choice(INTERESTING)
        elif kind == 2:
            data[at:at] = rng.randbytes(rng.randrange(1, 6))
        elif kind == 3:
            del data[at : at + rng.randrange(1, 6)]
        elif kind == 4:
            del data[at:]
        elif kind == 5:
            end = min(len(data), at + rng.randrange(1, 16))
            data[at:at] = data[at:end]
        elif kind == 6:
            other = rng.choice(self.corpus)
            cut = rng.randrange(len(other) + 1)
            data[at:] = other[cut:]
        else:
            data[at] = rng.randrange(256)


# --- the parsers -----------------------------------------------------------------------------


def _run(
    name: str,
    inputs: Iterator[bytes],
    parse: Callable[[bytes], bool],
    frames: int,
    seconds: float,
    seed: int,
) -> ParserFigures:
    """Feeds ``inputs`` to ``parse`` (True = accepted, False = refused with the parser's own
    error; anything raised is a crash) until ``frames`` or ``seconds`` run out."""
    figures = ParserFigures(name)
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    for index, raw in enumerate(inputs):
        if index >= frames or (index % 256 == 0 and time.perf_counter() > deadline):
            break
        figures.frames += 1
        try:
            if not parse(raw):
                figures.refused += 1
        except Exception as exc:
            if len(figures.crashes) < 5:
                where = traceback.format_exception(exc)[-2].strip().splitlines()[0]
                figures.crashes.append(
                    f"seed {seed} frame {index}: {type(exc).__name__}: {exc} ({where}) "
                    f"input {raw.hex()}"
                )
            else:
                figures.crashes.append("")
    figures.seconds = time.perf_counter() - t0
    return figures


Parse = Callable[[bytes], bool]


def _refused_by(*errors: type[Exception]) -> Callable[[Callable[[bytes], object]], Parse]:
    """A parser as a check: True when it accepted, False when it refused with ``errors``."""

    def wrap(function: Callable[[bytes], object]) -> Callable[[bytes], bool]:
        def parse(raw: bytes) -> bool:
            try:
                function(raw)
            except errors:
                return False
            return True

        return parse

    return wrap


def fuzz_wrapper(frames: int, seconds: float, seed: int) -> ParserFigures:
    """The TCP wrapper framer, fed the frames in random splits (one decoder per stream)."""
    rng = random.Random(seed)
    corpus = [encode_frame(0x10, 1, payload) for payload in _apdu_corpus()]
    corpus += [b"\x00\x01\x00\x10\x00\x01\xff\xff", b"\x00\x02\x00\x10\x00\x01\x00\x01\x00"]
    mutator = Mutator(corpus, rng)

    @_refused_by(FramingError)
    def parse(raw: bytes) -> None:
        decoder = WrapperDecoder(max_length=2048)
        at = 0
        while at < len(raw):
            step = rng.randrange(1, len(raw) - at + 1)
            decoder.feed(raw[at : at + step])
            at += step

    return _run("wrapper (IEC 62056-47)", iter(mutator), parse, frames, seconds, seed)


def fuzz_axdr(frames: int, seconds: float, seed: int) -> ParserFigures:
    mutator = Mutator(_data_corpus(), random.Random(seed))
    parse = _refused_by(DlmsDecodeError)(axdr.decode)
    return _run("A-XDR data", iter(mutator), parse, frames, seconds, seed)


def fuzz_datetime(frames: int, seconds: float, seed: int) -> ParserFigures:
    rng = random.Random(seed)
    corpus = [
        bytes.fromhex("07EA0B0107000000000080FF"),
        bytes.fromhex("FFFFFFFFFFFFFFFFFF800000"),
        bytes.fromhex("07EA0B01FF"),
        bytes.fromhex("00000000"),
    ]
    mutator = Mutator(corpus, rng)
    kinds = (CosemDateTime.from_bytes, CosemDate.from_bytes, CosemTime.from_bytes)

    @_refused_by(DlmsDecodeError)
    def parse(raw: bytes) -> None:
        rng.choice(kinds)(raw)

    return _run("COSEM date-time", iter(mutator), parse, frames, seconds, seed)


def fuzz_apdu(frames: int, seconds: float, seed: int) -> ParserFigures:
    mutator = Mutator(_apdu_corpus(), random.Random(seed))
    parse = _refused_by(DlmsDecodeError)(decode_apdu)
    return _run("xDLMS/ACSE APDU", iter(mutator), parse, frames, seconds, seed)


def fuzz_server(frames: int, seconds: float, seed: int) -> ParserFigures:
    """The sans-IO server over the real pmm1220 logical device, associated as management.

    A meter that cannot advance or restore after a batch is a crash, reported with the
    requests of that batch the server accepted (the ones that changed it); the campaign then
    goes on with a fresh meter."""
    rng = random.Random(seed)
    target = _ServerTarget()
    mutator = Mutator([*target.corpus, *_apdu_corpus()], rng)
    corpus = target.corpus
    accepted: list[bytes] = []

    def parse(raw: bytes) -> bool:
        nonlocal target
        if target.frames % CHECK_EVERY == CHECK_EVERY - 1:
            try:
                target.check_life()
            except Exception as exc:
                changes = " ".join(r.hex() for r in accepted[-6:])
                target = _ServerTarget(corpus)
                raise RuntimeError(f"the meter cannot run on: {exc}; accepted: {changes}") from exc
            finally:
                accepted.clear()
        target.frames += 1
        if not target.connection.is_associated(MANAGEMENT_SAP):
            target.associate()
        answer = target.connection.receive(MANAGEMENT_SAP, raw)
        if answer == INTERNAL_FAULT:
            raise RuntimeError("the server answered with its internal fault")
        if answer is None:
            return False
        response = decode_apdu(answer)  # an answer the server sends must itself decode
        if _succeeded(response) and raw[:1] in (b"\xc1", b"\xc3"):
            accepted.append(raw)
        return answer[:1] != b"\xd8"

    quiet = logging.getLogger("metertwin")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # internal faults are counted, not printed
    try:
        figures = _run("DLMS server (pmm1220)", iter(mutator), parse, frames, seconds, seed)
        try:
            target.check_life()
        except Exception as exc:
            figures.crashes.append(f"seed {seed} at the end: {type(exc).__name__}: {exc}")
    finally:
        quiet.setLevel(level)
    return figures


def _succeeded(response: object) -> bool:
    """A SET or ACTION answered success (normal responses only)."""
    result = getattr(response, "result", None)
    if isinstance(response, SetResponseNormal):
        return result is DataAccessResult.SUCCESS
    if isinstance(response, ActionResponseNormal):
        return result is ActionResult.SUCCESS
    return False


def fuzz_sts(frames: int, seconds: float, seed: int) -> ParserFigures:
    """Digits entered on the keypad: mutated valid tokens and noise (20 digits or not). The
    keypad lock is lifted before each entry, or it would refuse nearly all of them unread."""
    rng = random.Random(seed)
    model = load_model("pmm1220")
    meter = Meter(model.spec, START_MS, "00000001")
    key = meter_key_from_config({}, "(demo)", "00000001")
    meter.install_sts(StsDecoder(key, tid_capacity=model.spec.token_entry.tid_store))
    first = tid_from_datetime(datetime(2026, 11, 1, tzinfo=UTC), BaseDate.Y2014)
    valid = [
        encode_token(
            CreditToken(kind=CreditKind.ELECTRICITY_CURRENCY, tid=first + i, amount_tenths=10),
            key,
        ).encode()
        for i in range(32)
    ]
    alphabet = b"0123456789 -x\x00"
    mutator = Mutator(valid, rng)

    def digits() -> Iterator[bytes]:
        for raw in mutator:
            yield bytes(alphabet[b % len(alphabet)] if rng.random() < 0.2 else b for b in raw)

    def parse(raw: bytes) -> bool:
        meter.keypad.locked_until_ms = None
        return meter.enter_token(raw.decode("latin-1")).accepted

    return _run("STS keypad digits", digits(), parse, frames, seconds, seed)


class _ServerTarget:
    """The pmm1220 logical device, its meter and one connection, with a corpus of valid
    requests built from what the management association really serves."""

    def __init__(self, corpus: list[bytes] | None = None) -> None:
        self.model = load_model("pmm1220")
        self.meter = Meter(self.model.spec, START_MS, "00000001")
        self.connection = self._connect()
        self.associate()
        self.corpus = self._corpus() if corpus is None else corpus
        self.frames = 0

    def _connect(self) -> ServerConnection:
        device = build_logical_device(self.model, self.meter, lambda: None)
        self._device = device
        return ServerConnection(device, SERVER_SAP)

    def associate(self) -> None:
        secret = next(a.secret for a in self.model.dlms.associations if a.client_sap == 1)
        client = ClientAssociation(password=secret)
        answer = self.connection.receive(MANAGEMENT_SAP, client.aarq().encode())
        assert answer is not None and answer[:1] == b"\x61", answer

    def _corpus(self) -> list[bytes]:
        corpus: list[bytes] = []
        for obis, obj in self._device.objects.items():
            class_id = obj.class_id
            for attribute in range(1, 12):
                descriptor = AttributeDescriptor(class_id, obis, attribute)
                get = GetRequestNormal(invoke=INVOKE, attribute=descriptor).encode()
                corpus.append(get)
                answer = self.connection.receive(MANAGEMENT_SAP, get)
                if answer is None:
                    continue
                response = decode_apdu(answer)
                if isinstance(response, GetResponseNormal) and isinstance(response.result, Data):
                    value = response.result
                    corpus.append(
                        SetRequestNormal(invoke=INVOKE, attribute=descriptor, value=value).encode()
                    )
            for method in (1, 2, 3):
                corpus.append(
                    ActionRequestNormal(
                        invoke=INVOKE,
                        method=MethodDescriptor(class_id, obis, method),
                        parameters=Data.integer(0),
                    ).encode()
                )
        return corpus

    def check_life(self) -> None:
        """The meter advances an hour, saves, loads and advances again: a memory the fuzzed
        requests left behind must always be able to run."""
        meter = self.meter
        meter.advance(meter.now_ms + 3_600_000)
        restored = Meter.from_state(self.model.spec, meter.to_state())
        restored.advance(restored.now_ms + 3_600_000)


def _apdu_corpus() -> list[bytes]:
    """Reference APDUs (reference/dlms.md 5) and a few of every service."""
    hexes = (
        "601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0",  # AARQ no security
        "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
        "BE10040E01000000065F1F0400007E1F04B0",  # AARQ LLS
        "C001C100030100010800FF0200",  # GET
        "C001C100080000010000FF0200",
        "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000090C07EA0B01"
        "FF000000FF8000FF090C07EA0B02FF000000FF8000FF0100",  # GET profile by range
        "C002C100000001",  # GET next
        "C003C102000100002A0000FF020000080000010000FF0200",  # GET with list
        "C101C100080000010000FF0200090C07EA0B0107000000FF800000",  # SET clock
        "C301C100460000600300FF010F00",  # ACTION disconnect
        "6200",  # RLRQ
    )
    return [bytes.fromhex(h) for h in hexes]


def _data_corpus() -> list[bytes]:
    values = [
        Data.structure([Data.long_unsigned(5), Data.octet_string(b"\x01\x02"), Data.boolean(True)]),
        Data.array([Data.double_long(-1), Data.double_long(7)]),
        Data.visible_string("PMM1220"),
        Data.octet_string(bytes.fromhex("07EA0B0107000000FF800000")),
        Data.integer(-3),
        Data.long64_unsigned(2**63),
        Data.float64(3.5),
        Data.enum(2),
    ]
    return [axdr.encode(v) for v in values] + [bytes.fromhex("1301000100020A")]


PARSERS: dict[str, Callable[[int, float, int], ParserFigures]] = {
    "wrapper": fuzz_wrapper,
    "axdr": fuzz_axdr,
    "datetime": fuzz_datetime,
    "apdu": fuzz_apdu,
    "server": fuzz_server,
    "sts": fuzz_sts,
}


def print_figures(figures: ParserFigures, goal: int) -> None:
    rate = figures.frames / figures.seconds if figures.seconds else 0.0
    print(
        f"   {figures.name:26} {figures.frames:>9,} frames ({figures.frames / goal:5.1%} of "
        f"{goal:,}) in {figures.seconds:6.1f} s ({rate:>8,.0f}/s), refused "
        f"{figures.refused:,}, crashes {len(figures.crashes)}"
    )
    for crash in figures.crashes[:5]:
        if crash:
            print(f"      CRASH {crash[:400]}")


def run(frames: int, seconds: float, seed: int, only: Sequence[str] = ()) -> list[ParserFigures]:
    """Every parser (or those named), each bounded by ``frames`` and ``seconds``."""
    results = []
    for name, fuzz in PARSERS.items():
        if only and name not in only:
            continue
        figures = fuzz(frames, seconds, seed)
        print_figures(figures, frames)
        results.append(figures)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="goal per parser")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="cap per parser")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--only", nargs="*", default=(), choices=sorted(PARSERS))
    args = parser.parse_args(argv)
    header(f"fuzz: mutated and random octets into every parser (seed {args.seed})")
    results = run(args.frames, args.seconds, args.seed, args.only)
    crashes = sum(len(r.crashes) for r in results)
    print(f"   total: {sum(r.frames for r in results):,} frames, {crashes} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
