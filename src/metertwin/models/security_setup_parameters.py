"""The A-XDR parameters and answers of the Security setup methods (class 64 version 1).

Layouts (Blue Book 4.4.7; as /work/shared/reference/dlms.md lists the methods, and as the
certificate_identification and certificate_info structures are spelled out in gurux's
GXDLMSSecuritySetup and DLMS_SPODES's security_setup/ver1.py, read, not copied):

- key_transfer / key_agreement: array of structure {key_id enum, key octet-string};
- generate_key_pair / generate_certificate_request: key_pair enum (0 digital signature,
  1 key agreement, 2 TLS);
- import_certificate: octet-string (the DER certificate);
- export_certificate / remove_certificate: certificate_identification ::= structure
  {certificate_identification_type enum (0 by entity, 1 by serial), structure by_entity
  {certificate_entity enum, certificate_type enum, system_title octet-string} or by_serial
  {serial_number octet-string, issuer octet-string}};
- attribute 6: array of certificate_info ::= structure {certificate_entity enum,
  certificate_type enum, serial_number, issuer, subject, subject_alt_name octet-strings}.

Every parser refuses a malformed parameter with type-unmatched; what the values mean (an
unknown certificate, a wrong signature) is the caller's to refuse.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from metertwin.codec.axdr import Data, DataType
from metertwin.cosem.errors import type_unmatched
from metertwin.security.certificates import KEY_PAIR_TYPES, CertificateInfoTuple

_ENTITIES = range(4)  # server, client, certification authority, other
_CERTIFICATE_TYPES = range(4)  # digital signature, key agreement, TLS, other (a CA's)


def _fields(data: Data | None, types: tuple[DataType, ...]) -> tuple[Data, ...] | None:
    """The members of a structure of exactly these types, or None."""
    if data is None or data.type is not DataType.STRUCTURE:
        return None
    fields = data.as_items()
    if len(fields) != len(types) or any(
        f.type is not t for f, t in zip(fields, types, strict=True)
    ):
        return None
    return fields


def key_entries(
    parameters: Data | None, method: str, key_ids: Collection[int]
) -> list[tuple[int, bytes]]:
    """array of structure {key_id enum, octet-string}, not empty, each key id once and one
    of ``key_ids``."""
    if parameters is None or parameters.type is not DataType.ARRAY or not parameters.as_items():
        raise type_unmatched(f"{method} takes an array of {{key_id, key octet-string}}")
    entries: list[tuple[int, bytes]] = []
    for entry in parameters.as_items():
        fields = _fields(entry, (DataType.ENUM, DataType.OCTET_STRING))
        if fields is None:
            raise type_unmatched(f"a {method} entry is {{key_id enum, octet-string}}")
        key_id = fields[0].as_int()
        if key_id not in key_ids or any(key_id == seen for seen, _ in entries):
            raise type_unmatched(f"{method}: key id {key_id} unknown or repeated")
        entries.append((key_id, fields[1].as_bytes()))
    return entries


def key_entries_data(entries: Iterable[tuple[int, bytes]]) -> Data:
    """The array of {key_id, key_data} key_agreement answers with."""
    return Data.array(
        [Data.structure([Data.enum(key_id), Data.octet_string(data)]) for key_id, data in entries]
    )


def key_pair_type(parameters: Data | None) -> int:
    """key_pair enum of methods 4 and 5."""
    if parameters is None or parameters.type is not DataType.ENUM:
        raise type_unmatched("the key pair is an enum")
    value = parameters.as_int()
    if value not in KEY_PAIR_TYPES:
        raise type_unmatched(f"key pair {value} (0 digital signature, 1 key agreement, 2 TLS)")
    return value


def certificate_der(parameters: Data | None) -> bytes:
    """import_certificate's octet-string, not empty."""
    if parameters is None or parameters.type is not DataType.OCTET_STRING:
        raise type_unmatched("import_certificate takes the DER certificate as an octet-string")
    der = parameters.as_bytes()
    if not der:
        raise type_unmatched("an empty certificate")
    return der


@dataclass(frozen=True)
class ByEntity:
    entity: int
    certificate_type: int
    system_title: bytes


@dataclass(frozen=True)
class BySerial:
    serial_number: bytes
    issuer: bytes


def certificate_identification(parameters: Data | None) -> ByEntity | BySerial:
    """certificate_identification of methods 7 and 8."""
    outer = _fields(parameters, (DataType.ENUM, DataType.STRUCTURE))
    if outer is None:
        raise type_unmatched("certificate_identification is {type enum, options structure}")
    kind, options = outer[0].as_int(), outer[1]
    if kind == 0:
        entity = _fields(options, (DataType.ENUM, DataType.ENUM, DataType.OCTET_STRING))
        if entity is None:
            raise type_unmatched("by entity is {entity enum, type enum, system_title}")
        values = entity[0].as_int(), entity[1].as_int()
        if values[0] not in _ENTITIES or values[1] not in _CERTIFICATE_TYPES:
            raise type_unmatched(f"certificate entity/type {values} unknown")
        return ByEntity(*values, entity[2].as_bytes())
    if kind == 1:
        serial = _fields(options, (DataType.OCTET_STRING, DataType.OCTET_STRING))
        if serial is None:
            raise type_unmatched("by serial is {serial_number, issuer octet-strings}")
        return BySerial(serial[0].as_bytes(), serial[1].as_bytes())
    raise type_unmatched(f"certificate_identification_type {kind} (0 entity, 1 serial)")


def certificate_infos(infos: Iterable[CertificateInfoTuple]) -> Data:
    """Attribute 6."""
    return Data.array(
        [
            Data.structure(
                [Data.enum(entity), Data.enum(kind)]
                + [Data.octet_string(value) for value in octets]
            )
            for entity, kind, *octets in infos
        ]
    )
