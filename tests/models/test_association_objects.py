"""What the management objects say about the association and the logical device must match
what the server negotiated and serves (issue 11, items 3 and 4)."""

from __future__ import annotations

import pytest
from tests.helpers import utc_ms
from tests.models.test_communication_log import _drive

from metertwin.codec.axdr import Data
from metertwin.dlms.client.association import ClientAssociation
from metertwin.dlms.server.connection import ServerConnection, ServerSettings
from metertwin.meter.core import Meter
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.loader import AssociationSpec

CURRENT_ASSOCIATION = "0.0.40.0.0.255"
LOGICAL_DEVICE_NAME = "0.0.42.0.0.255"
SAP_ASSIGNMENT = "0.0.41.0.0.255"
PUBLIC_CLIENT = 0x10


def _connection(name: str, settings: ServerSettings | None = None) -> ServerConnection:
    model = load_model(name)
    meter = Meter(model.spec, utc_ms(2026, 6, 1, 8), "20240117")
    device = build_logical_device(model, meter, lambda: None)
    return ServerConnection(device, model.dlms.server_sap, settings)


def _management(name: str) -> tuple[int, bytes]:
    """The client SAP and secret of the model's association that lists the most objects."""
    model = load_model(name)
    spec = next(a for a in model.dlms.associations if a.rights == "management")
    return spec.client_sap, model.spec.security.default_secrets[spec.name]


def _public(name: str) -> AssociationSpec:
    """The model's public association (its object is 0.0.40.0.e.255, e its place + 1)."""
    return next(a for a in load_model(name).dlms.associations if a.client_sap == PUBLIC_CLIENT)


@pytest.mark.parametrize("name", builtin_model_names())
@pytest.mark.parametrize(("client_receives", "server_receives"), [(700, 2000), (1500, 512)])
def test_xdlms_context_info_tells_what_each_side_may_send(
    name: str, client_receives: int, server_receives: int
) -> None:
    """Blue Book, Association LN (class_id 15), attribute 5 xDLMS_context_info:
    "max_receive_pdu_size contains the maximum length for an xDLMS APDU, expressed in bytes,
    that the client may send. This is the same as the server-max-receive-pdu-size parameter
    of the DLMS-Initiate.response pdu"; "max_send_pdu_size, in an active association,
    contains the maximum length for an xDLMS APDU, expressed in bytes, that the server may
    send. This is the same as the client-max-receive-pdu-size parameter of the
    DLMS-Initiate.request pdu". Element order: conformance, max_receive_pdu_size,
    max_send_pdu_size, dlms_version_number, quality_of_service, cyphering_info
    (reference/dlms.md 6, class 15)."""
    connection = _connection(name, ServerSettings(max_receive_pdu_size=server_receives))
    sap, secret = _management(name)
    client = ClientAssociation(password=secret, max_receive_pdu_size=client_receives)
    initiate = _drive(connection, sap, client.associate())
    assert initiate.server_max_receive_pdu_size == server_receives  # the AARE's InitiateResponse
    info = _drive(connection, sap, client.get(CURRENT_ASSOCIATION, 15, 5)).as_items()
    assert len(info) == 6
    assert info[1] == Data.long_unsigned(initiate.server_max_receive_pdu_size)
    assert info[2] == Data.long_unsigned(client_receives)


@pytest.mark.parametrize("name", builtin_model_names())
def test_a_closed_association_object_announces_what_the_server_could_receive(name: str) -> None:
    """The public association's object read by the management client while no public
    client is associated: max_receive_pdu_size is the server's (the default 1024 of every
    connection), max_send_pdu_size 0 (the Blue Book defines it "in an active association")."""
    connection = _connection(name)
    sap, secret = _management(name)
    client = ClientAssociation(password=secret)
    _drive(connection, sap, client.associate())
    public = load_model(name).dlms.associations.index(_public(name)) + 1
    info = _drive(connection, sap, client.get(f"0.0.40.0.{public}.255", 15, 5)).as_items()
    assert (info[1], info[2]) == (
        Data.long_unsigned(ServerSettings().max_receive_pdu_size),
        Data.long_unsigned(0),
    )


@pytest.mark.parametrize("name", builtin_model_names())
def test_sap_assignment_names_the_logical_device_as_it_reads(name: str) -> None:
    """Blue Book, SAP assignment (class_id 17) attribute 2 SAP_assignment_list: array of
    {SAP long-unsigned, logical_device_name octet-string} (reference/dlms.md 6, class 17):
    the management device's entry must carry the very name 0.0.42.0.0.255 reads (the
    model's template expanded with the serial, e.g. PMM20240117), never ``PMM{serial}``."""
    connection = _connection(name)
    sap, secret = _management(name)
    client = ClientAssociation(password=secret)
    _drive(connection, sap, client.associate())
    device_name = _drive(connection, sap, client.get(LOGICAL_DEVICE_NAME, 1)).as_bytes()
    listed = _drive(connection, sap, client.get(SAP_ASSIGNMENT, 17)).as_items()
    assert b"{" not in device_name and b"20240117" in device_name
    assert [entry.as_items() for entry in listed] == [
        (Data.long_unsigned(load_model(name).dlms.server_sap), Data.octet_string(device_name))
    ]
