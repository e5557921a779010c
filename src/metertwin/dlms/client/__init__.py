"""Our DLMS/COSEM client, for head-end style use (``from metertwin.dlms.client import DlmsClient``).

- ``association``: :class:`ClientAssociation`, the sans-IO client side of an association.
- ``tcp``: :class:`DlmsClient` (blocking) and :class:`AsyncDlmsClient` over TCP.
- ``objects``, ``values``, ``user_input``: what a head-end makes of object lists, profiles and
  values, and of what a user types for a SET or an ACTION.
- ``security``: :class:`ClientSecurity` (HLS mechanism, suite, policy, keys) and the
  :class:`SecureChannel` that protects requests and opens answers.
- ``errors``: the :class:`DlmsClientError` family.

The client knows no server-side object model: it reads plain ``Data`` and parses it here.
"""

from metertwin.dlms.client.association import (
    DEFAULT_CONFORMANCE,
    DEFAULT_MAX_RECEIVE_PDU_SIZE,
    AttributeRef,
    ClientAssociation,
    Exchange,
    WrapperLink,
)
from metertwin.dlms.client.errors import (
    ActionFailedError,
    AssociationRejectedError,
    ConfirmedServiceErrorResponse,
    DataAccessError,
    DlmsClientError,
    DlmsConnectionError,
    DlmsProtocolError,
    DlmsSecurityError,
    DlmsTimeoutError,
    ExceptionResponseError,
    NotAssociatedError,
)
from metertwin.dlms.client.objects import (
    AttributeAccessRight,
    CaptureObject,
    MethodAccessRight,
    ObjectListEntry,
    class_name,
    range_access,
    scaler_unit_attribute,
)
from metertwin.dlms.client.security import ClientSecurity, SecureChannel
from metertwin.dlms.client.tcp import (
    DEFAULT_TIMEOUT,
    AsyncDlmsClient,
    DlmsClient,
)
from metertwin.dlms.client.values import (
    PlainValue,
    ScalerUnit,
    date_time_text,
    format_value,
    to_python,
)

__all__ = [
    "DEFAULT_CONFORMANCE",
    "DEFAULT_MAX_RECEIVE_PDU_SIZE",
    "DEFAULT_TIMEOUT",
    "ActionFailedError",
    "AssociationRejectedError",
    "AsyncDlmsClient",
    "AttributeAccessRight",
    "AttributeRef",
    "CaptureObject",
    "ClientAssociation",
    "ClientSecurity",
    "ConfirmedServiceErrorResponse",
    "DataAccessError",
    "DlmsClient",
    "DlmsClientError",
    "DlmsConnectionError",
    "DlmsProtocolError",
    "DlmsSecurityError",
    "DlmsTimeoutError",
    "ExceptionResponseError",
    "Exchange",
    "MethodAccessRight",
    "NotAssociatedError",
    "ObjectListEntry",
    "PlainValue",
    "ScalerUnit",
    "SecureChannel",
    "WrapperLink",
    "class_name",
    "date_time_text",
    "format_value",
    "range_access",
    "scaler_unit_attribute",
    "to_python",
]
