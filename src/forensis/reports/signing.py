"""PAdES signatures of laboratory reports, made and checked with pyHanko.

The laboratory signs each issued report with one key pair, configured by ``FORENSIS_SIGNING_KEY`` (PEM private
key, optionally encrypted with ``FORENSIS_SIGNING_KEY_PASSPHRASE``) and ``FORENSIS_SIGNING_CERT`` (PEM certificate,
optionally followed by its CA chain). The signature is a PAdES baseline signature (``/ETSI.CAdES.detached``) in an
invisible field named "Laboratory", appended as an incremental update, so any PDF reader shows it in its signature
panel and the signed bytes stay byte-for-byte what ReportLab wrote.

:func:`check_signature` trusts exactly one certificate: the laboratory's configured one. "Trusted" therefore means
"signed with this laboratory's current key", not "issued by a CA in some trust list". Nothing is fetched from the
network (no OCSP, CRL or time-stamp server).

pyHanko's synchronous signing and validation functions run their own event loop (``asyncio.run``), so call these
functions from synchronous code (a normal Django view, a management command), not from inside a running loop.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils.translation import gettext as _
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

logger = logging.getLogger(__name__)

#: Name of the (invisible) signature field the laboratory signs.
FIELD_NAME = "Laboratory"

#: The command that writes a demo key pair to the configured paths.
GENERATE_COMMAND = "forensis signing-key --self-signed"

# A certificate from a CA may carry either usage for document signing; the demo certificate has both.
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)


class SigningKeyMissing(Exception):
    """The laboratory's signing key or certificate does not exist or cannot be loaded."""


# ---------------------------------------------------------------------------------------------------------------
# Generating a demo key pair
# ---------------------------------------------------------------------------------------------------------------


def generate_self_signed(
    key_path: Path,
    cert_path: Path,
    *,
    common_name: str,
    days: int = 3650,
    overwrite: bool = False,
    passphrase: str | None = None,
) -> None:
    """Write a new RSA 3072 key and a self-signed certificate (CN = O = ``common_name``) as PEM files.

    The key file is created with mode 0600 (encrypted when ``passphrase`` is given, which must then match
    ``FORENSIS_SIGNING_KEY_PASSPHRASE``); missing parent directories are created (mode 0700). Each file is written
    to a temporary file and renamed, so a reader never sees half a key. Existing files are only replaced when
    ``overwrite`` is true: replacing the key makes every later report carry a different certificate.
    """
    key_path, cert_path = Path(key_path), Path(cert_path)
    if not overwrite:
        existing = [str(p) for p in (key_path, cert_path) if p.exists()]
        if existing:
            raise FileExistsError(
                f"Not replacing the existing signing key/certificate {' and '.join(existing)}; "
                "replace them on purpose with `forensis signing-key --self-signed --force`."
            )
    if days < 1:
        raise ValueError("A certificate must be valid for at least one day.")

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A few minutes of slack, so a server whose clock is slightly behind accepts a fresh certificate.
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # a.k.a. nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------------
# Loading the configured key and certificate
# ---------------------------------------------------------------------------------------------------------------


def _paths() -> tuple[Path, Path]:
    return Path(settings.FORENSIS_SIGNING_KEY), Path(settings.FORENSIS_SIGNING_CERT)


def _missing(what: str) -> SigningKeyMissing:
    key_path, cert_path = _paths()
    return SigningKeyMissing(
        f"The laboratory's signing {what} (key {key_path}, certificate {cert_path}); run "
        f"`{GENERATE_COMMAND}` for a demo key, or set FORENSIS_SIGNING_KEY and FORENSIS_SIGNING_CERT "
        "to the laboratory's real ones."
    )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


@functools.cache
def _load_certificates(cert_path: Path, mtime: float | None) -> tuple[asn1_x509.Certificate, ...]:
    """The certificates of ``cert_path``: the laboratory's first, then any CA chain that follows it.

    Cached per modification time, so replacing the file takes effect without a restart.
    """
    if mtime is None:
        raise _missing("certificate does not exist")
    try:
        certs = tuple(load_certs_from_pemder_data(cert_path.read_bytes()))
        for cert in certs:  # asn1crypto parses lazily: make a damaged certificate fail here, not while signing
            x509.load_der_x509_certificate(cert.dump())
    except (OSError, ValueError, TypeError) as exc:
        raise _missing(f"certificate cannot be loaded ({exc})") from None
    if not certs:
        raise _missing("certificate file holds no certificate")
    return certs


@functools.cache
def _load_signer(
    key_path: Path, cert_path: Path, key_mtime: float | None, cert_mtime: float | None, passphrase: str
) -> signers.SimpleSigner:
    if key_mtime is None:
        raise _missing("key does not exist")
    certs = _load_certificates(cert_path, cert_mtime)
    try:
        data = key_path.read_bytes()
        load = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
        private_key = load(data, password=passphrase.encode() or None)
    except (OSError, ValueError, TypeError) as exc:
        # cryptography raises TypeError for a passphrase given to a plain key or missing for an encrypted one.
        raise _missing(
            f"key cannot be loaded ({exc}; check FORENSIS_SIGNING_KEY_PASSPHRASE and that it is a PEM key)"
        ) from None
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    certificate_key = x509.load_der_x509_certificate(certs[0].dump()).public_key().public_bytes(*public)
    if private_key.public_key().public_bytes(*public) != certificate_key:
        raise _missing("key does not belong to the certificate")
    key_info = asn1_keys.PrivateKeyInfo.load(
        private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    registry = SimpleCertificateStore()
    registry.register_multiple(certs[1:])
    return signers.SimpleSigner(signing_cert=certs[0], signing_key=key_info, cert_registry=registry)


def reset_signer_cache() -> None:
    """Forget the loaded key and certificate (tests call this after pointing the settings elsewhere)."""
    _load_signer.cache_clear()
    _load_certificates.cache_clear()


def _signer() -> signers.SimpleSigner:
    key_path, cert_path = _paths()
    return _load_signer(
        key_path, cert_path, _mtime(key_path), _mtime(cert_path), str(settings.FORENSIS_SIGNING_KEY_PASSPHRASE or "")
    )


def signing_certificate() -> asn1_x509.Certificate:
    """The laboratory's configured certificate (raises :class:`SigningKeyMissing` when it cannot be loaded)."""
    _key_path, cert_path = _paths()
    return _load_certificates(cert_path, _mtime(cert_path))[0]


def check_key() -> None:
    """Load the configured key and certificate and check they belong together; raise SigningKeyMissing if not."""
    _signer()


# ---------------------------------------------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------------------------------------------


def sign_pdf(pdf: bytes, *, reason: str, location: str = "", contact: str = "") -> bytes:
    """``pdf`` with the laboratory's PAdES signature appended as an incremental update.

    The signature field "Laboratory" is invisible (no widget on any page); the signing time is the server's clock
    (no time-stamp authority is contacted). Raises :class:`SigningKeyMissing` when the key cannot be loaded or the
    certificate is not valid now: the check cannot tell later when a report was really signed, because a
    certificate that is its own trust root is trusted even after it expires.
    """
    signer = _signer()
    validity = signer.signing_cert["tbs_certificate"]["validity"]
    now = datetime.now(UTC)
    if now < validity["not_before"].native:
        raise _missing(f"certificate is not valid until {validity['not_before'].native:%Y-%m-%d %H:%M} UTC")
    if now > validity["not_after"].native:
        raise _missing(f"certificate expired on {validity['not_after'].native:%Y-%m-%d %H:%M} UTC")
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or None,
        location=location or None,
        contact_info=contact or None,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    output = signers.sign_pdf(writer, metadata, signer=signer, new_field_spec=fields.SigFieldSpec(FIELD_NAME))
    return output.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """What :func:`check_signature` found out about a PDF's first signature.

    ``intact``: the signed bytes hash to the digest in the signature (false after any change to them).
    ``valid``: the signature is intact and cryptographically correct — pyHanko's own ``valid`` flag covers only the
    signature over the signed attributes and stays true when the document's bytes were changed, so it is combined
    with ``intact`` here. ``trusted``: valid, and made with the laboratory's configured certificate.
    ``covers_whole_file``: nothing was appended after the signature (no later incremental update).
    ``signed_at`` is the time the signer's computer claimed, not a time-stamp authority's.
    """

    signed: bool
    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: datetime | None
    covers_whole_file: bool
    summary: str

    @property
    def ok(self) -> bool:
        """Signed with this laboratory's key and unchanged since."""
        return self.signed and self.intact and self.valid and self.trusted and self.covers_whole_file


def _unsigned(summary: str) -> SignatureCheck:
    return SignatureCheck(
        signed=False,
        intact=False,
        valid=False,
        trusted=False,
        signer="",
        signed_at=None,
        covers_whole_file=False,
        summary=summary,
    )


def _subject_name(cert: asn1_x509.Certificate) -> str:
    common_name = cert.subject.native.get("common_name")
    if isinstance(common_name, list):  # several CN attributes
        common_name = ", ".join(common_name)
    return str(common_name or cert.subject.human_friendly)


def _validation_context() -> tuple[ValidationContext, bool]:
    """A context whose only trust root is the laboratory's certificate, offline, revocation soft-fail.

    Returns the context and whether the laboratory's certificate could be loaded (an empty trust list — not
    ``None``, which would mean the operating system's list — when it cannot).
    """
    try:
        roots = [signing_certificate()]
    except SigningKeyMissing:
        roots = []
    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"), bool(roots)


def check_signature(pdf: bytes) -> SignatureCheck:
    """Validate the first signature of ``pdf`` against the laboratory's certificate.

    Never raises for bad input: a file that is not a readable PDF, or has no signature, gives ``signed=False``.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_regular_signatures
    except Exception:  # pyHanko raises many types for damaged files; all mean "cannot read it"
        logger.info("Signature check: not a readable PDF", exc_info=True)
        return _unsigned(_("The file is not a readable PDF document."))
    if not embedded:
        return _unsigned(_("The document carries no digital signature."))

    signature = embedded[0]
    context, have_root = _validation_context()
    try:
        status = validate_pdf_signature(signature, signer_validation_context=context, key_usage_settings=_KEY_USAGE)
    except Exception:  # a signature dictionary too damaged to evaluate: it does not vouch for anything
        logger.info("Signature check: signature could not be evaluated", exc_info=True)
        signer = ""
        with contextlib.suppress(Exception):  # the name is only informative
            signer = _subject_name(signature.signer_cert)
        return SignatureCheck(
            signed=True,
            intact=False,
            valid=False,
            trusted=False,
            signer=signer,
            signed_at=None,
            covers_whole_file=False,
            summary=_("The document carries a signature that is damaged and cannot be verified."),
        )

    intact = bool(status.intact)
    valid = intact and bool(status.valid)
    trusted = valid and bool(status.trusted)
    covers_whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signer = _subject_name(status.signing_cert)
    if not valid:
        summary = _("The signature does not match the document: it was changed after it was signed.")
    elif not trusted and not have_root:
        summary = _(
            "The signature by %(signer)s is intact, but the laboratory's certificate is not configured, "
            "so it cannot be confirmed as the laboratory's."
        ) % {"signer": signer}
    elif not trusted:
        summary = _(
            "The signature is intact but was not made with this laboratory's signing key (signed by %(signer)s)."
        ) % {"signer": signer}
    elif not covers_whole_file:
        summary = _(
            "Signed with the laboratory's key by %(signer)s, but content was added to the file after signing."
        ) % {"signer": signer}
    else:
        summary = _("Signed with the laboratory's key by %(signer)s; the document has not been changed since.") % {
            "signer": signer
        }
    return SignatureCheck(
        signed=True,
        intact=intact,
        valid=valid,
        trusted=trusted,
        signer=signer,
        signed_at=status.signer_reported_dt,
        covers_whole_file=covers_whole_file,
        summary=summary,
    )
