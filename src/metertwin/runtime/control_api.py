"""The control API of `metertwin run` (docs/api.md): HTTP on FastAPI, in the meter's loop.

uvicorn's `Server.serve()` runs as a task of the event loop that advances the meter and serves
DLMS, so a request never sees a half-made tick: every tick commits before it yields, and every
change asked for here commits before it is answered (a refused commit answers 503). What the
event stream shows is what a commit stored. Every refusal is JSON ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from metertwin.cli_api import API_URL_FILE
from metertwin.errors import UserError
from metertwin.meter.core import Meter
from metertwin.meter.events import EventCode
from metertwin.meter.firmware import FIRMWARE_FAULTS
from metertwin.meter.inputs import Fault
from metertwin.meter.profiles import EVENT, ProfileRecord
from metertwin.models.energy import energy_register_units, energy_register_values
from metertwin.runtime.live_inputs import (
    BUTTONS,
    INPUT_NAMES,
    META_KEY,
    InputChange,
    InputError,
    LiveInputs,
    absent_inputs,
)
from metertwin.runtime.session import Session
from metertwin.runtime.sms import SmsModem
from metertwin.runtime.wmbus import WmbusRadio, session_has_wmbus
from metertwin.sim.base import Window
from metertwin.sim.world import SimulatedWorld
from metertwin.storage.sqlite import CommitError

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
_Body = TypeVar("_Body", bound=BaseModel)
_END = None  # what a subscriber's queue receives when the server stops


def utc_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class EventHub:
    """Fans the event-log entries of each commit out to the open streams."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def on_records(self, records: list[ProfileRecord]) -> None:
        specs = {spec.name: spec for spec in self.session.meter.spec.profiles}
        for record in records:
            spec = specs.get(record.profile)
            if spec is None or spec.period_s != EVENT or "event_code" not in spec.channels:
                continue
            code = int(record.values[spec.channels.index("event_code")])
            try:
                name = EventCode(code).name.lower()
            except ValueError:
                name = f"event_{code}"
            event = {
                "code": code,
                "name": name,
                "log": record.profile,
                "time": utc_iso(record.meter_ms),
                "meter_ms": record.meter_ms,
                "seq": record.seq,
            }
            if "event_count" in spec.channels:
                event["count"] = int(record.values[spec.channels.index("event_count")])
            for queue in self._queues:
                queue.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any] | None]]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def close(self) -> None:
        for queue in self._queues:
            queue.put_nowait(_END)


class WmbusBody(BaseModel):
    """A telegram as the module's wM-Bus radio received it (docs/wmbus.md)."""

    model_config = ConfigDict(extra="forbid")
    hex: str = Field(description="the telegram in hex, from its L-field, CRCs included")
    format: str = Field(
        "auto", pattern="^(auto|A|B|none)$", description="frame format: auto, A, B or none"
    )


class ChangeBody(BaseModel):
    """A change of one input: on (``active``, the default) or off."""

    model_config = ConfigDict(extra="forbid")
    active: bool = True
    phase: int | None = Field(None, description="1..phases: phase_loss, reverse_current")
    power_w: float | None = Field(None, description="load: total W, import > 0, export < 0")


class SmsBody(BaseModel):
    """An SMS as the module's modem receives it (docs/sms.md)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    text: str = Field(description="the SMS text, e.g. MCP INFO PWD=HELLO")
    sender: str = Field("", alias="from", max_length=32, description="the sending number")
    coding: str = Field(
        "gsm7", pattern="^(gsm7|ucs2|8bit)$", description="the data coding: only gsm7 is read"
    )
    udh: str = Field(
        "",
        pattern="^([0-9a-fA-F]{2})*$",
        description="a user data header, hex (a concatenated part)",
    )


class FirmwareFaultBody(BaseModel):
    """A meter-side firmware fault to arm: it strikes once, at the next step it names."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="one of " + ", ".join(FIRMWARE_FAULTS))


def _json_request(model: type[BaseModel], required: bool) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its JSON itself (`_json_body`)."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": required, "content": content}}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _change_body(request: Request) -> ChangeBody:
    """The body of a change: JSON (whatever the content type says), empty meaning on."""
    return await _json_body(request, ChangeBody, '{"active": true}', empty_ok=True)


async def _json_body(
    request: Request, model: type[_Body], example: str, empty_ok: bool = False
) -> _Body:
    """A JSON object body (whatever the content type says) validated as ``model``."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() or not empty_ok else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"bad JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object such as {example}", 400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(_problems(exc.errors())) from None


def _problems(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one line naming each field and what is wrong with it."""
    problems = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        problems.append(f"{where or 'body'}: {error.get('msg')}")
    return "; ".join(problems) or "invalid request"


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return 400, f"bad JSON: {error.get('ctx', {}).get('error', error.get('msg'))}"
    return 422, _problems(exc.errors())


@dataclass
class MeterControl:
    """What the routes act on: the session, its live inputs, its event hub."""

    session: Session
    inputs: LiveInputs
    sms: SmsModem | None = None
    wmbus: WmbusRadio | None = None
    hub: EventHub = field(init=False)

    def __post_init__(self) -> None:
        self.hub = EventHub(self.session)
        self.session.record_listeners.append(self.hub.on_records)

    @classmethod
    def of(cls, session: Session, sms: SmsModem | None = None) -> MeterControl:
        world = session.scenario
        if not isinstance(world, SimulatedWorld):
            raise UserError("the control API needs a simulated world scenario")
        spec = session.model.spec
        inputs = LiveInputs(world, spec.ratings.phases, absent_inputs(spec))
        try:
            inputs.restore(session.store.load().meta.get(META_KEY))
        except InputError as exc:
            raise UserError(f"{session.store.directory}: {exc}") from None
        radio = WmbusRadio(session) if session_has_wmbus(session) else None
        return cls(session, inputs, sms, radio)

    def deliver_wmbus(self, body: WmbusBody) -> JSONResponse:
        """The radio receives ``body``: stored or counted and dropped, once committed."""
        if self.wmbus is None:
            return _error(404, f"model {self.session.model.spec.name} has no wM-Bus collector")
        if self.session.read_only:
            return _error(503, "the meter's memory takes no commit; the meter is read-only")
        try:
            telegram = bytes.fromhex(body.hex)
        except ValueError:
            return _error(422, "hex: not hexadecimal octets")
        try:
            reception = self.wmbus.deliver(telegram, body.format)
        except CommitError as exc:
            return _error(503, f"not committed: {exc}")
        sender = reception.sender
        return JSONResponse(
            {
                "outcome": reception.outcome,
                "detail": reception.detail,
                "stored": reception.outcome == "stored",
                "entry": reception.entry,
                "sender": None if sender is None else asdict(sender),
                "records": list(reception.records),
            }
        )

    def deliver_sms(self, body: SmsBody) -> JSONResponse:
        """The module receives ``body``: its reply SMS, once what it changed is committed."""
        if self.sms is None:
            return _error(404, f"model {self.session.model.spec.name} has no SMS modem")
        if self.session.read_only:
            return _error(503, "the meter's memory takes no commit; the meter is read-only")
        try:
            outcome = self.sms.deliver(body.text, body.sender, body.coding, bytes.fromhex(body.udh))
        except CommitError as exc:
            return _error(503, f"not committed, nothing changed, no reply sent: {exc}")
        due = self.sms.reset_due_ms
        return JSONResponse(
            {
                "reply": outcome.reply,
                "to": body.sender,
                "committed": outcome.configured,
                "restart_at": None if due is None else utc_iso(due),
            }
        )

    def commit(self, windows: tuple[Window, ...]) -> JSONResponse:
        """Put ``windows`` in force and commit them with the meter's state; 503 if refused."""
        session = self.session
        if session.read_only:
            return _error(503, "the meter's memory takes no commit; the meter is read-only")
        previous = self.inputs.apply(windows)
        try:
            session.commit(meta=self.inputs.to_meta())
        except CommitError as exc:
            self.inputs.apply(previous)
            return _error(503, f"not committed, nothing changed: {exc}")
        return JSONResponse({"committed": True, "inputs": self.state_inputs()})

    def arm_firmware_fault(self, kind: str | None) -> JSONResponse:
        """Arm ``kind`` (None: disarm them all) and commit it with the meter's state."""
        session, firmware = self.session, self.session.meter.firmware
        if kind is not None and kind not in FIRMWARE_FAULTS:
            return _error(422, f"unknown firmware fault {kind!r} ({', '.join(FIRMWARE_FAULTS)})")
        if session.read_only:
            return _error(503, "the meter's memory takes no commit; the meter is read-only")
        before = set(firmware.armed_faults)
        if kind is None:
            firmware.armed_faults.clear()
        else:
            firmware.arm(kind)
        try:
            session.commit(meta=self.inputs.to_meta())
        except CommitError as exc:
            firmware.armed_faults = before
            return _error(503, f"not committed, nothing changed: {exc}")
        return JSONResponse({"committed": True, "firmware": self.firmware_state()})

    def firmware_state(self) -> dict[str, Any]:
        firmware = self.session.meter.firmware
        return {
            "active_version": firmware.active.version,
            "image_transfer_status": int(firmware.status),
            "armed_faults": sorted(firmware.armed_faults),
            "last_failure": firmware.last_failure,
        }

    def state_inputs(self) -> list[dict[str, object]]:
        return self.inputs.active(self.session.meter.now_ms)

    def state(self) -> dict[str, Any]:
        meter = self.session.meter
        inst = meter.instantaneous()
        units = energy_register_units(meter)
        wallet = None
        if meter.wallet is not None:
            wallet = {
                "mode": meter.wallet.mode.name.lower(),
                "status": meter.wallet.status.name.lower(),
                "credit": meter.format_credit(meter.wallet.credit),
                "emergency_in_use": meter.wallet.emergency_in_use,
                "low_credit_level": meter.wallet.alarm_level,
            }
        return {
            "model": meter.spec.name,
            "serial_number": meter.serial_number,
            "read_only": self.session.read_only,
            "clock": {
                "world_time": utc_iso(meter.now_ms),
                "meter_time": utc_iso(meter.meter_time_ms()),
                "local_time": meter.local_time().isoformat(),
                "status": int(meter.clock.status(meter.meter_time_ms())),
            },
            "rate": meter.rate,
            "relay": meter.disconnect.state.name.lower(),
            "registers": {
                obis: {"value_mwh": value, "unit": units[obis]}
                for obis, value in energy_register_values(meter).items()
            },
            "instantaneous": {
                "powered": inst.powered,
                "frequency_hz": inst.frequency_hz,
                "active_w": inst.active_w,
                "phases": [
                    {
                        "voltage_v": r.voltage_v,
                        "current_a": r.current_a,
                        "active_w": r.active_w,
                        "reactive_var": r.reactive_var,
                    }
                    for r in inst.phases
                ],
            },
            "wallet": wallet,
            "faults": [str(flag.name).lower() for flag in Fault if flag & inst.faults],
            "inputs": self.state_inputs(),
            "firmware": self.firmware_state(),
            **io_state(meter),
        }


def io_state(meter: Meter) -> dict[str, Any]:
    """The battery, the tariff input and the S0 pulse output (issue 20 items 8, 9); each
    None on a model without it."""
    battery = meter.battery
    forced = meter.spec.tariff_input_rate
    constant = meter.spec.pulse_output_imp_per_kwh
    return {
        "battery": None
        if battery is None
        else {
            "voltage_v": round(battery.voltage_v, 3),
            "use_time_s": battery.on_battery_ms // 1000,
            "installed": utc_iso(battery.installed_ms),
            "low": EventCode.BATTERY_LOW in battery.raised,
            "replace": EventCode.REPLACE_BATTERY in battery.raised,
        },
        "tariff_input": None
        if forced is None
        else {"active": bool(meter.faults & Fault.TARIFF_INPUT), "rate": forced},
        "s0": None if constant is None else {"imp_per_kwh": constant, "pulses": meter.s0_pulses()},
    }


def build_app(control: MeterControl) -> FastAPI:
    """The routes over ``control`` (docs/api.md)."""
    app = FastAPI(
        title="metertwin control API",
        version="1",
        description="State, inputs, faults and events of a running metertwin meter.",
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, f"no such endpoint: {request.url.path} (see /docs)")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("control API")
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/state", summary="The meter's state: registers, relay, wallet, clock, inputs")
    async def state() -> dict[str, Any]:
        return control.state()

    @app.get("/inputs", summary="The inputs and faults set through the API, in force now")
    async def inputs() -> dict[str, Any]:
        return {"inputs": control.state_inputs(), "known": list(INPUT_NAMES)}

    @app.post(
        "/inputs/{name}",
        summary="Set an input or fault on (active true) or off; committed before the answer",
        description="names: " + ", ".join(INPUT_NAMES),
        openapi_extra=_json_request(ChangeBody, required=False),
    )
    async def change(name: str, request: Request) -> JSONResponse:
        if name not in INPUT_NAMES:
            raise InputError(f"unknown input {name!r} (known: {', '.join(INPUT_NAMES)})", 404)
        body = await _change_body(request)
        asked = InputChange(name, body.active, body.phase, body.power_w)
        return control.commit(control.inputs.changed(asked, control.session.meter.now_ms))

    @app.delete("/inputs", summary="Clear every input set through the API")
    async def clear() -> JSONResponse:
        return control.commit(())

    @app.post(
        "/buttons/{name}/press",
        summary="Press a button for one meter-second",
        description="buttons: " + ", ".join(BUTTONS),
    )
    async def press(name: str) -> JSONResponse:
        return control.commit(control.inputs.press(name, control.session.meter.now_ms))

    @app.post(
        "/sms",
        summary="Deliver an SMS to the module; the answer is its reply SMS (docs/sms.md)",
        openapi_extra=_json_request(SmsBody, required=True),
    )
    async def sms(request: Request) -> JSONResponse:
        body = await _json_body(request, SmsBody, '{"text": "MCP INFO PWD=HELLO"}')
        return control.deliver_sms(body)

    @app.get("/faults/firmware", summary="The firmware slots' state and the faults armed")
    async def firmware_faults() -> dict[str, Any]:
        return {**control.firmware_state(), "known": list(FIRMWARE_FAULTS)}

    @app.post(
        "/faults/firmware",
        summary="Arm a meter-side firmware fault (docs/firmware.md); committed before the answer",
        description="kinds: " + ", ".join(FIRMWARE_FAULTS),
        openapi_extra=_json_request(FirmwareFaultBody, required=True),
    )
    async def arm_firmware_fault(request: Request) -> JSONResponse:
        body = await _json_body(request, FirmwareFaultBody, '{"kind": "fail-self-check"}')
        return control.arm_firmware_fault(body.kind)

    @app.delete("/faults/firmware", summary="Disarm every firmware fault not yet struck")
    async def disarm_firmware_faults() -> JSONResponse:
        return control.arm_firmware_fault(None)

    @app.post(
        "/wmbus",
        summary="Deliver a received wM-Bus telegram to the collector (docs/wmbus.md)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": WmbusBody.model_json_schema()}},
            }
        },
    )
    async def wmbus(request: Request) -> JSONResponse:
        body = await _json_body(request, WmbusBody, '{"hex": "2E44931578563412..."}')
        return control.deliver_wmbus(body)

    @app.get(
        "/events/stream",
        summary="Server-sent events: each committed event-log entry (code, name, log, time)",
        response_class=StreamingResponse,
    )
    async def events() -> StreamingResponse:
        return StreamingResponse(_stream(control.hub), media_type="text/event-stream")

    return app


async def _stream(hub: EventHub) -> AsyncIterator[str]:
    with hub.subscribe() as queue:
        yield ": metertwin events\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if event is _END:
                return
            yield f"event: meter-event\ndata: {json.dumps(event)}\n\n"


class _LoopServer(uvicorn.Server):
    """uvicorn inside the meter's loop: the meter's own SIGINT/SIGTERM handling stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ControlApi:
    """The running API server: started on a bound socket, stopped with the meter."""

    def __init__(self, control: MeterControl, host: str, port: int) -> None:
        self.control = control
        self.host = host
        self.asked_port = port
        self.port = 0
        self._server: _LoopServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._url_file: Path | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.asked_port))
        except OSError as exc:
            sock.close()
            raise UserError(
                f"cannot serve the API on {self.host}:{self.asked_port} ({exc.strerror})"
            ) from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.control),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _LoopServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise UserError(f"the API on {self.url} did not start")
            await asyncio.sleep(0.01)
        self._url_file = self.control.session.store.directory / API_URL_FILE
        with contextlib.suppress(OSError):
            self._url_file.write_text(self.url + "\n", encoding="utf-8")

    async def stop(self) -> None:
        if self._url_file is not None:
            with contextlib.suppress(OSError):
                self._url_file.unlink()
        self.control.hub.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
