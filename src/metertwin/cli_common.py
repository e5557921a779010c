"""What every command shares: its exit codes, and which association of a built-in model a
head-end command needs (the model told by the meter's logical device name).

Exit codes, the same for every command (README, "Exit codes"):

- 0: done;
- 1: refused by the meter (an association, a read, a method or a token the meter turned down);
- 2: a usage or input error (arguments, files, an unreachable address): nothing was asked of
  the meter, or what was asked could not reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from metertwin.cli_target import MeterTarget, open_meter
from metertwin.codec.obis import Obis
from metertwin.cosem.access import ObjectRights
from metertwin.dlms.client import DlmsClient
from metertwin.dlms.client.errors import (
    AssociationRejectedError,
    ConfirmedServiceErrorResponse,
    DataAccessError,
    DlmsClientError,
    DlmsConnectionError,
    DlmsProtocolError,
    ExceptionResponseError,
)
from metertwin.models import DeviceModel, builtin_model_names, load_model
from metertwin.models.loader import AssociationSpec

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "LOGICAL_DEVICE_NAME",
    "PUBLIC_CLIENT",
    "acting_association",
    "association_of",
    "association_refusal_text",
    "client_options",
    "model_of_device_name",
    "model_of_meter",
    "probe_model",
    "reading_association",
    "writing_association",
]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
LOGICAL_DEVICE_NAME = Obis(0, 0, 42, 0, 0)
"""COSEM logical device name: every association may read it (docs/dlms.md, public rights)."""
PUBLIC_CLIENT = 0x10


def model_of_device_name(name: bytes) -> DeviceModel | None:
    """The built-in model whose ``[dlms] logical_device_name`` template (``PMM{serial}``) the
    meter's name fits, or None (a meter of a model file, or another make)."""
    text = name.decode("latin-1")
    for model_name in builtin_model_names():
        model = load_model(model_name)
        prefix, _serial, suffix = model.dlms.logical_device_name.partition("{serial}")
        if text.startswith(prefix) and text.endswith(suffix) and len(text) > len(prefix):
            return model
    return None


def model_of_meter(meter: DlmsClient) -> DeviceModel | None:
    """The built-in model of the meter ``meter`` is associated with, told by its logical
    device name (every association may read it); None when it cannot be told."""
    try:
        name = meter.get(LOGICAL_DEVICE_NAME, 1, 2)
    except (DataAccessError, ExceptionResponseError, ConfirmedServiceErrorResponse):
        return None
    except DlmsProtocolError:
        if not meter.connected:
            raise
        return None
    value = name.value
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    return model_of_device_name(value) if isinstance(value, bytes) else None


def probe_model(target: MeterTarget, server_sap: int, timeout: float) -> DeviceModel | None:
    """:func:`model_of_meter` over the public client (no secret, so no lockout try), or None
    when the meter refuses it; an unreachable meter raises DlmsConnectionError."""
    try:
        with open_meter(target, timeout, PUBLIC_CLIENT, server_sap) as meter:
            return model_of_meter(meter)
    except DlmsConnectionError:
        raise
    except DlmsClientError:
        return None


def association_of(model: DeviceModel, client_sap: int) -> AssociationSpec | None:
    """The association of ``model`` that client SAP ``client_sap`` opens."""
    return next((a for a in model.dlms.associations if a.client_sap == client_sap), None)


def association_refusal_text(
    refusal: AssociationRejectedError, model: DeviceModel | None, client_sap: int
) -> str:
    """What a refused AARE means for this meter: during a lockout how long it may last (the
    model's ``lockout_minutes``; the AARE has no field for the time left, so "up to"), for a
    wrong secret how many make a lock; any other refusal as the client words it."""
    if model is None or not (refusal.locked or refusal.wrong_password):
        return str(refusal)
    spec = association_of(model, client_sap)
    security = model.spec.security
    minutes = security.lockout_s // 60
    which = f"the {spec.name} association" if spec is not None else "this association"
    which += f" (client {client_sap}) of {model.spec.name}"
    rule = (
        f"{model.spec.name} locks an association for {minutes} minutes of meter time after "
        f"{security.max_failures} wrong secrets in a row"
    )
    head = (
        f"association refused ({'rejected-transient' if refusal.locked else 'rejected-permanent'}"
    )
    head += ", authentication-failure)"
    if refusal.locked:
        return (
            f"{head}: {which} is locked for up to {minutes} more minutes ({rule}; the meter "
            "does not say when the lock began)"
        )
    return f"{head}: wrong secret for {which}; {rule}"


@cache
def _association_rights(
    model_name: str,
) -> tuple[tuple[AssociationSpec, dict[Obis, ObjectRights]], ...]:
    """Each association of a built-in model with the rights its object list grants, from
    the logical device the model builds (a throwaway meter: rights do not depend on state)."""
    from metertwin.meter.core import Meter
    from metertwin.models.binder import build_logical_device

    model = load_model(model_name)
    device = build_logical_device(model, Meter(model.spec, 0, "0"), lambda: None)
    return tuple(
        (spec, device.policies[spec.client_sap].rights) for spec in model.dlms.associations
    )


def _first_association(
    model: DeviceModel, obis: Obis, allows: Callable[[ObjectRights], bool]
) -> AssociationSpec | None:
    """The least privileged association (the model lists them public first) that allows it."""
    for spec, rights in _association_rights(model.source):
        listed = rights.get(obis)
        if listed is not None and allows(listed):
            return spec
    return None


def reading_association(model: DeviceModel, obis: Obis, attribute: int) -> AssociationSpec | None:
    """The association that may read ``obis`` attribute ``attribute``."""
    return _first_association(model, obis, lambda rights: rights.attribute(attribute).readable)


def writing_association(model: DeviceModel, obis: Obis, attribute: int) -> AssociationSpec | None:
    """The least privileged association of ``model`` that may write ``obis`` ``attribute``."""
    return _first_association(model, obis, lambda rights: rights.attribute(attribute).writable)


def acting_association(model: DeviceModel, obis: Obis, method: int) -> AssociationSpec | None:
    """The association that may invoke method ``method`` of ``obis``."""
    return _first_association(model, obis, lambda rights: bool(rights.method(method)))


def client_options(spec: AssociationSpec) -> str:
    """The options that open ``spec``: ``--client 32 --password 00000001`` (the model's
    default secret; a meter whose secret was changed needs the new one)."""
    options = f"--client {spec.client_sap}"
    if spec.secret is not None:
        options += f" --password {spec.secret.decode('utf-8', 'replace')}"
    return options
