"""The certificates and key pairs of one Security setup object (class 64 v1, suites 1 and 2).

Attribute 6 (certificates) and the methods generate_key_pair (4), generate_certificate_request
(5), import_certificate (6), export_certificate (7) and remove_certificate (8), sans-IO: the
caller decodes the method's A-XDR arguments, calls the store, encodes what it returns, and
persists ``to_state()`` atomically before it answers (a key change is committed first).

DLMS naming (Green Book 9.2.6 certificate profile, as gurux also applies it): a device's
subject is ``CN=`` its system title as 16 upper-case hex digits. Key usage by type: digital
signature -> digitalSignature, key agreement -> keyAgreement, TLS -> both.

Attribute 6 lists plain values, in the order of the certificate_info structure:
``(certificate_entity, certificate_type, serial_number, issuer, subject, subject_alt_name)``;
serial_number is the unsigned big-endian integer, issuer and subject the DER of the X.501
Name, subject_alt_name the DER of the extension value (empty when absent). Private keys are
kept as PKCS#8 DER, certificates as DER.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from metertwin.security.ciphering import SYSTEM_TITLE_LENGTH
from metertwin.security.errors import CertificateError
from metertwin.security.suites import SecuritySuite, security_suite

STATE_VERSION = 1
_Extension = TypeVar("_Extension", bound=x509.ExtensionType)
# What cryptography raises for a malformed certificate (several are not ValueErrors).
_PARSE_ERRORS = (
    ValueError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


class CertificateEntity(IntEnum):
    """certificate_entity (class 64): whose certificate it is."""

    SERVER = 0
    CLIENT = 1
    CERTIFICATION_AUTHORITY = 2
    OTHER = 3


class CertificateType(IntEnum):
    """certificate_type, also key_pair_type of generate_key_pair / generate_certificate_request."""

    DIGITAL_SIGNATURE = 0
    KEY_AGREEMENT = 1
    TLS = 2
    OTHER = 3


KEY_PAIR_TYPES = (
    CertificateType.DIGITAL_SIGNATURE,
    CertificateType.KEY_AGREEMENT,
    CertificateType.TLS,
)

CertificateInfoTuple = tuple[int, int, bytes, bytes, bytes, bytes]


def subject_common_name(system_title: bytes) -> str:
    """The CN of a DLMS device's certificate: its system title in upper-case hex."""
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(f"a system title is 8 bytes, not {len(system_title)}")
    return system_title.hex().upper()


def system_title_of(name: x509.Name) -> bytes | None:
    """The system title a subject names (CN of 16 hex digits), or None."""
    for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        if isinstance(value, str) and len(value) == 2 * SYSTEM_TITLE_LENGTH:
            try:
                return bytes.fromhex(value)
            except ValueError:
                return None
    return None


def _key_usage_for(key_type: CertificateType) -> x509.KeyUsage:
    signs = key_type in (CertificateType.DIGITAL_SIGNATURE, CertificateType.TLS)
    agrees = key_type in (CertificateType.KEY_AGREEMENT, CertificateType.TLS)
    return x509.KeyUsage(
        digital_signature=signs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=agrees,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _type_of_usage(usage: x509.KeyUsage) -> CertificateType | None:
    if usage.digital_signature and usage.key_agreement:
        return CertificateType.TLS
    if usage.digital_signature:
        return CertificateType.DIGITAL_SIGNATURE
    if usage.key_agreement:
        return CertificateType.KEY_AGREEMENT
    return None


@dataclass(frozen=True)
class StoredCertificate:
    """One imported certificate and what attribute 6 says of it."""

    entity: CertificateEntity
    certificate_type: CertificateType
    certificate: x509.Certificate

    @property
    def serial_number(self) -> bytes:
        serial = self.certificate.serial_number
        return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")

    @property
    def issuer(self) -> bytes:
        return self.certificate.issuer.public_bytes()

    @property
    def subject(self) -> bytes:
        return self.certificate.subject.public_bytes()

    @property
    def subject_alt_name(self) -> bytes:
        try:
            extension = self.certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            )
        except x509.ExtensionNotFound:
            return b""
        return extension.value.public_bytes()

    @property
    def system_title(self) -> bytes | None:
        return system_title_of(self.certificate.subject)

    def info(self) -> CertificateInfoTuple:
        return (
            int(self.entity),
            int(self.certificate_type),
            self.serial_number,
            self.issuer,
            self.subject,
            self.subject_alt_name,
        )

    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


class CertificateStore:
    """Key pairs and certificates of one server for one security suite (1 or 2)."""

    def __init__(self, suite: int, system_title: bytes) -> None:
        self._suite = _ecc_suite(suite)
        self._system_title = bytes(system_title)
        subject_common_name(self._system_title)  # checks the length
        self._key_pairs: dict[CertificateType, ec.EllipticCurvePrivateKey] = {}
        self._certificates: list[StoredCertificate] = []

    @property
    def suite(self) -> SecuritySuite:
        return self._suite

    # --- key pairs (methods 4 and 5) ---------------------------------------------------------

    def generate_key_pair(self, key_type: int) -> None:
        """generate_key_pair: a new key pair of this type on the suite's curve, replacing the
        old one (its certificate no longer matches and is removed)."""
        kind = _key_pair_type(key_type)
        assert self._suite.curve is not None
        self._key_pairs[kind] = ec.generate_private_key(self._suite.curve)
        self._certificates = [
            stored
            for stored in self._certificates
            if not (stored.entity is CertificateEntity.SERVER and stored.certificate_type is kind)
        ]

    def adopt_key_pair(self, key_type: int, key: ec.EllipticCurvePrivateKey) -> None:
        """Hold a key pair made elsewhere (the signing key a meter generated at its first
        start for HLS-ECDSA), so that methods 5 to 7 know it; CertificateError off-curve."""
        kind = _key_pair_type(key_type)
        assert self._suite.curve is not None
        if key.curve.name != self._suite.curve.name:
            raise CertificateError(f"the key is on {key.curve.name}, not {self._suite.curve.name}")
        self._key_pairs[kind] = key

    def private_key(self, key_type: int) -> ec.EllipticCurvePrivateKey | None:
        return self._key_pairs.get(_key_pair_type(key_type))

    def certificate_signing_request(self, key_type: int) -> bytes:
        """generate_certificate_request: PKCS#10 (DER) for the key pair of this type, subject
        CN = our system title, its key usage requested, signed with the suite's hash."""
        kind = _key_pair_type(key_type)
        key = self._key_pairs.get(kind)
        if key is None:
            raise CertificateError(f"no {kind.name.lower()} key pair: generate one first")
        hash_algorithm = self._suite.hash_algorithm
        assert isinstance(hash_algorithm, hashes.SHA256 | hashes.SHA384)
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, subject_common_name(self._system_title))]
        )
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(name)
            .add_extension(_key_usage_for(kind), critical=True)
            .sign(key, hash_algorithm)
        )
        return request.public_bytes(serialization.Encoding.DER)

    # --- certificates (methods 6, 7, 8 and attribute 6) ---------------------------------------

    def import_certificate(self, der: bytes) -> StoredCertificate:
        """import_certificate: validate a DER X.509 certificate and keep it.

        Refused (CertificateError): not DER X.509; not an EC key on the suite's curve; no key
        usage, or one that is neither digitalSignature nor keyAgreement; a certificate for our
        own system title whose key is not the key pair we generated for its type; one whose
        issuer is a CA we hold but whose signature that CA did not make. A certificate of the
        same entity, type and subject replaces the one held.
        """
        certificate = _parse_certificate(der)
        key = certificate.public_key()
        assert self._suite.curve is not None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CertificateError("not an elliptic-curve key")
        if key.curve.name != self._suite.curve.name:
            raise CertificateError(
                f"the key is on {key.curve.name}; suite {self._suite.number} uses "
                f"{self._suite.curve.name}"
            )
        usage = _extension(certificate, x509.KeyUsage)
        if usage is None:
            raise CertificateError("no key usage extension")
        constraints = _extension(certificate, x509.BasicConstraints)
        is_ca = constraints is not None and constraints.ca
        stored = self._classify(certificate, key, usage, is_ca)
        self._check_issuer(certificate)
        self._certificates = [
            held
            for held in self._certificates
            if not (
                held.entity is stored.entity
                and held.certificate_type is stored.certificate_type
                and held.subject == stored.subject
            )
        ]
        self._certificates.append(stored)
        return stored

    def _classify(
        self,
        certificate: x509.Certificate,
        key: ec.EllipticCurvePublicKey,
        usage: x509.KeyUsage,
        is_ca: bool,
    ) -> StoredCertificate:
        if is_ca:
            if not usage.key_cert_sign:
                raise CertificateError("a CA certificate without keyCertSign")
            return StoredCertificate(
                CertificateEntity.CERTIFICATION_AUTHORITY,
                CertificateType.OTHER,
                certificate,
            )
        kind = _type_of_usage(usage)
        if kind is None:
            raise CertificateError("key usage is neither digitalSignature nor keyAgreement")
        title = system_title_of(certificate.subject)
        if title == self._system_title:
            own = self._key_pairs.get(kind)
            if own is None:
                raise CertificateError(f"no {kind.name.lower()} key pair of ours to certify")
            if _public_point(own.public_key()) != _public_point(key):
                raise CertificateError("the certificate's key is not the key pair we generated")
            return StoredCertificate(CertificateEntity.SERVER, kind, certificate)
        entity = CertificateEntity.CLIENT if title is not None else CertificateEntity.OTHER
        return StoredCertificate(entity, kind, certificate)

    def _check_issuer(self, certificate: x509.Certificate) -> None:
        for held in self._certificates:
            if (
                held.entity is CertificateEntity.CERTIFICATION_AUTHORITY
                and held.certificate.subject == certificate.issuer
                and held.certificate != certificate
            ):
                try:
                    certificate.verify_directly_issued_by(held.certificate)
                except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                    raise CertificateError("not signed by the CA that its issuer names") from None
                return

    def export_by_entity(self, entity: int, certificate_type: int, system_title: bytes) -> bytes:
        """export_certificate by entity, type and system title: the certificate's DER."""
        return self._find_by_entity(entity, certificate_type, system_title).der()

    def export_by_serial(self, serial_number: bytes, issuer: bytes) -> bytes:
        """export_certificate by serial number and issuer (DER of the issuer's Name)."""
        return self._find_by_serial(serial_number, issuer).der()

    def remove_by_entity(self, entity: int, certificate_type: int, system_title: bytes) -> None:
        self._certificates.remove(self._find_by_entity(entity, certificate_type, system_title))

    def remove_by_serial(self, serial_number: bytes, issuer: bytes) -> None:
        self._certificates.remove(self._find_by_serial(serial_number, issuer))

    def certificates(self) -> list[CertificateInfoTuple]:
        """Attribute 6: one certificate_info tuple per held certificate."""
        return [stored.info() for stored in self._certificates]

    def public_key(
        self, entity: int, certificate_type: int, system_title: bytes
    ) -> ec.EllipticCurvePublicKey:
        """The key of a held certificate (e.g. the client's signing key for HLS-ECDSA)."""
        key = self._find_by_entity(entity, certificate_type, system_title).certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def _find_by_entity(
        self, entity: int, certificate_type: int, system_title: bytes
    ) -> StoredCertificate:
        for stored in self._certificates:
            if (
                stored.entity == entity
                and stored.certificate_type == certificate_type
                and stored.system_title == bytes(system_title)
            ):
                return stored
        raise CertificateError(
            f"no certificate of entity {entity}, type {certificate_type}, "
            f"system title {bytes(system_title).hex().upper()}"
        )

    def _find_by_serial(self, serial_number: bytes, issuer: bytes) -> StoredCertificate:
        wanted = int.from_bytes(serial_number, "big")
        for stored in self._certificates:
            if stored.certificate.serial_number == wanted and stored.issuer == bytes(issuer):
                return stored
        raise CertificateError(f"no certificate of serial number {bytes(serial_number).hex()}")

    # --- persistence -------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: PKCS#8 DER private keys and DER certificates, hex."""
        return {
            "version": STATE_VERSION,
            "suite": self._suite.number,
            "system_title": self._system_title.hex(),
            "key_pairs": {
                str(int(kind)): key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).hex()
                for kind, key in sorted(self._key_pairs.items())
            },
            "certificates": [
                {
                    "entity": int(stored.entity),
                    "type": int(stored.certificate_type),
                    "der": stored.der().hex(),
                }
                for stored in self._certificates
            ],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_state(), sort_keys=True).encode("ascii")

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CertificateStore:
        """The store a ``to_state`` snapshot describes; CertificateError if it is damaged."""
        try:
            if state["version"] != STATE_VERSION:
                raise CertificateError(f"state version {state['version']}")
            store = cls(int(state["suite"]), bytes.fromhex(state["system_title"]))
            for kind, pkcs8 in state["key_pairs"].items():
                key = serialization.load_der_private_key(bytes.fromhex(pkcs8), password=None)
                curve = store.suite.curve
                if not isinstance(key, ec.EllipticCurvePrivateKey) or (
                    curve is None or key.curve.name != curve.name
                ):
                    raise CertificateError("a stored key pair is not on the suite's curve")
                store._key_pairs[_key_pair_type(int(kind))] = key
            for entry in state["certificates"]:
                certificate = _parse_certificate(bytes.fromhex(entry["der"]))
                store._certificates.append(
                    StoredCertificate(
                        CertificateEntity(int(entry["entity"])),
                        CertificateType(int(entry["type"])),
                        certificate,
                    )
                )
        except CertificateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, UnsupportedAlgorithm) as damaged:
            raise CertificateError(f"damaged certificate state: {damaged!r}") from None
        return store

    @classmethod
    def from_bytes(cls, data: bytes) -> CertificateStore:
        try:
            state = json.loads(data)
        except (ValueError, UnicodeDecodeError) as damaged:
            raise CertificateError(f"damaged certificate state: {damaged}") from None
        if not isinstance(state, dict):
            raise CertificateError("damaged certificate state: not an object")
        return cls.from_state(state)


def _ecc_suite(number: int) -> SecuritySuite:
    suite = security_suite(number)
    if suite.curve is None:
        raise ValueError(f"suite {number} has no public-key certificates")
    return suite


def _key_pair_type(value: int) -> CertificateType:
    if value not in KEY_PAIR_TYPES:
        raise CertificateError(f"key pair type {value} (0 signature, 1 key agreement, 2 TLS)")
    return CertificateType(value)


def _parse_certificate(der: bytes) -> x509.Certificate:
    """Parse, and touch now every part the store reads later (cryptography parses some
    lazily), so any bad certificate is refused here with a CertificateError."""
    try:
        with warnings.catch_warnings():  # a non-positive serial: refused just below
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certificate = x509.load_der_x509_certificate(bytes(der))
            positive = certificate.serial_number > 0
        if not positive:
            raise CertificateError("a serial number must be positive (RFC 5280 4.1.2.2)")
        certificate.public_key()
        certificate.subject.public_bytes()
        certificate.issuer.public_bytes()
        for extension in certificate.extensions:
            if isinstance(extension.value, x509.SubjectAlternativeName):
                extension.value.public_bytes()
    except _PARSE_ERRORS as bad:
        raise CertificateError(f"not a usable DER X.509 certificate: {bad!r}") from None
    return certificate


def _extension(certificate: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
