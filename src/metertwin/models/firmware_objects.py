"""Class 18 Image transfer (0.0.44.0.0) over the meter's firmware slots (meter/firmware.py).

Each method's effect is in the meter's state, which the session commits before the answer
leaves: a block answered success survives a restart. Verify and activate answer
temporary-failure while they run; the client polls image_transfer_status (attribute 6).
"""

from __future__ import annotations

from metertwin.codec.axdr import BitString, Data, DataType
from metertwin.codec.enums import DataAccessResult
from metertwin.codec.obis import Obis
from metertwin.cosem.classes import interface_class
from metertwin.cosem.errors import CosemError
from metertwin.cosem.objects import Binding, CosemObject, Method, Request
from metertwin.meter.core import Meter
from metertwin.meter.firmware import BLOCK_SIZE, FirmwareBusy, FirmwareRefused
from metertwin.models.values import integer, items, octets

IMAGE_TRANSFER = Obis(0, 0, 44, 0, 0)


def image_transfer(obis: Obis, meter: Meter) -> CosemObject:
    firmware = meter.firmware

    def read(value: Data) -> Binding:
        return Binding(get=lambda _r: value)

    def status(_request: Request) -> Data:
        # no poll here: a GET commits nothing, so it shows what the core's own boundary
        # (verify/activate due) did and the session committed
        return Data.enum(int(firmware.status))

    def to_activate(_request: Request) -> Data:
        slot = firmware.verified
        if slot is None:
            return Data.array([])
        return Data.array(
            [
                Data.structure(
                    [
                        Data.double_long_unsigned(firmware.image_size),
                        Data.octet_string(firmware.identifier),
                        Data.octet_string(firmware.signature),
                    ]
                )
            ]
        )

    def set_enabled(_request: Request, value: Data) -> None:
        if value.type is not DataType.BOOLEAN:
            raise CosemError(DataAccessResult.TYPE_UNMATCHED, "image_transfer_enabled is boolean")
        firmware.transfer_enabled = value.as_bool()

    def step(action: str) -> Method:
        def invoke(_request: Request, parameters: Data | None) -> Data | None:
            try:
                if action == "initiate":
                    identifier, size = items(_given(parameters), 2)
                    firmware.initiate(
                        octets(identifier),
                        integer(size, DataType.DOUBLE_LONG_UNSIGNED),
                        meter.now_ms,
                    )
                elif action == "block":
                    number, value = items(_given(parameters), 2)
                    firmware.block(
                        integer(number, DataType.DOUBLE_LONG_UNSIGNED),
                        octets(value),
                        meter.now_ms,
                    )
                elif action == "verify":
                    firmware.verify(meter.now_ms)
                else:
                    firmware.activate(meter.now_ms)
            except FirmwareBusy as busy:
                raise CosemError(DataAccessResult.TEMPORARY_FAILURE, str(busy)) from None
            except FirmwareRefused as refused:
                raise CosemError(DataAccessResult.OTHER_REASON, str(refused)) from None
            return None

        return invoke

    return CosemObject(
        interface_class(18),
        obis,
        {
            2: read(Data.double_long_unsigned(BLOCK_SIZE)),
            3: Binding(
                get=lambda _r: Data.bit_string(BitString.from_bools(firmware.transferred_bits()))
            ),
            4: Binding(get=lambda _r: Data.double_long_unsigned(firmware.first_missing_block())),
            5: Binding(get=lambda _r: Data.boolean(firmware.transfer_enabled), set=set_enabled),
            6: Binding(get=status),
            7: Binding(get=to_activate),
        },
        {1: step("initiate"), 2: step("block"), 3: step("verify"), 4: step("activate")},
    )


def _given(parameters: Data | None) -> Data:
    if parameters is None:
        raise CosemError(DataAccessResult.TYPE_UNMATCHED, "the method needs its parameters")
    return parameters
