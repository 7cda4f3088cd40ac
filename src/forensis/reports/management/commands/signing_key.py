from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from forensis.reports import signing


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex, the way ``openssl x509 -fingerprint`` prints it."""
    return ":".join(f"{byte:02X}" for byte in cert.fingerprint(hashes.SHA256()))


class Command(BaseCommand):
    help = (
        "The laboratory's report-signing key. Without options: show the configured certificate and check the key. "
        "`--self-signed` writes a demo key pair to FORENSIS_SIGNING_KEY / FORENSIS_SIGNING_CERT; "
        "`--check FILE.pdf` verifies a signed report."
    )
    # Needs neither the database nor the URLs: usable while the rest of the installation is being set up.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--self-signed",
            action="store_true",
            help="Generate a self-signed demo key and certificate at the configured paths.",
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="With --self-signed: do nothing when both files already exist.",
        )
        parser.add_argument(
            "--common-name",
            help="With --self-signed: the certificate's name (default: FORENSIS_LAB_NAME + ' (demo signing key)').",
        )
        parser.add_argument("--days", type=int, default=3650, help="With --self-signed: validity in days.")
        parser.add_argument("--force", action="store_true", help="With --self-signed: replace existing files.")
        parser.add_argument("--check", metavar="PDF", help="Verify the signature of this PDF file.")

    def handle(
        self,
        *args,
        self_signed: bool,
        if_missing: bool,
        common_name: str | None,
        days: int,
        force: bool,
        check: str | None,
        **options,
    ):
        if not self_signed and (if_missing or force or common_name):
            raise CommandError("--if-missing, --force and --common-name only go with --self-signed.")
        if if_missing and force:
            raise CommandError("--if-missing and --force contradict each other; use one.")
        if check and self_signed:
            raise CommandError("--check cannot be combined with --self-signed.")
        if check:
            self._check(Path(check))
        elif self_signed:
            self._generate(common_name=common_name, days=days, force=force, if_missing=if_missing)
        else:
            self._show()

    def _generate(self, *, common_name: str | None, days: int, force: bool, if_missing: bool) -> None:
        key_path, cert_path = Path(settings.FORENSIS_SIGNING_KEY), Path(settings.FORENSIS_SIGNING_CERT)
        if if_missing:
            present = [p for p in (key_path, cert_path) if p.exists()]
            if len(present) == 2:
                self.stdout.write(f"Signing key already exists ({key_path}, {cert_path}); nothing done.")
                return
            if present:
                raise CommandError(
                    f"Only {present[0]} exists, its partner is missing; restore it, or replace both with "
                    "`forensis signing-key --self-signed --force`."
                )
        name = common_name or f"{settings.FORENSIS_LAB_NAME} (demo signing key)"
        try:
            signing.generate_self_signed(
                key_path,
                cert_path,
                common_name=name,
                days=days,
                overwrite=force,
                passphrase=settings.FORENSIS_SIGNING_KEY_PASSPHRASE or None,
            )
        except (FileExistsError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        signing.reset_signer_cache()
        self.stdout.write(self.style.SUCCESS(f"Self-signed demo signing key written for {name!r}."))
        self.stdout.write(
            "PDF readers will show its signatures as of unknown validity; use a certificate from a CA in production."
        )
        self._show()

    def _show(self) -> None:
        key_path, cert_path = Path(settings.FORENSIS_SIGNING_KEY), Path(settings.FORENSIS_SIGNING_CERT)
        try:
            cert = x509.load_der_x509_certificate(signing.signing_certificate().dump())
            signing.check_key()
        except signing.SigningKeyMissing as exc:
            raise CommandError(str(exc)) from None
        now = datetime.now(UTC)
        rows = [
            ("Key", str(key_path)),
            ("Certificate", str(cert_path)),
            ("Subject", cert.subject.rfc4514_string()),
            ("Issuer", "self-signed" if cert.issuer == cert.subject else cert.issuer.rfc4514_string()),
            ("Serial", f"{cert.serial_number:X}"),
            ("Valid from", f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"),
            ("Valid until", f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"),
            ("SHA-256 fingerprint", fingerprint(cert)),
        ]
        width = max(len(label) for label, _value in rows)
        for label, value in rows:
            self.stdout.write(f"{label + ':':<{width + 1}} {value}")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            self.stdout.write(self.style.ERROR("The certificate is not valid now: reports cannot be signed."))
        elif (cert.not_valid_after_utc - now).days < 60:
            self.stdout.write(
                self.style.WARNING(f"The certificate expires in {(cert.not_valid_after_utc - now).days} days.")
            )
        if key_path.stat().st_mode & 0o077:
            self.stdout.write(
                self.style.WARNING(f"{key_path} can be read by other users of this server; run chmod 600 on it.")
            )
        self.stdout.write(self.style.SUCCESS("The key matches the certificate."))

    def _check(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        # pyHanko logs every failed trust check as a warning with a traceback; the verdict below says it in one line.
        pyhanko_logger = logging.getLogger("pyhanko")
        level = pyhanko_logger.level
        pyhanko_logger.setLevel(logging.ERROR)
        try:
            result = signing.check_signature(data)
        finally:
            pyhanko_logger.setLevel(level)
        if result.signed:
            self.stdout.write(f"Signer: {result.signer}")
            signed_at = f"{result.signed_at:%Y-%m-%d %H:%M %z}" if result.signed_at else "unknown"
            self.stdout.write(f"Signed at (signer's clock): {signed_at}")
            for label, value in [
                ("Intact", result.intact),
                ("Valid", result.valid),
                ("Laboratory's key", result.trusted),
                ("Covers whole file", result.covers_whole_file),
            ]:
                self.stdout.write(f"{label}: {'yes' if value else 'NO'}")
        if not result.ok:
            raise CommandError(result.summary)
        self.stdout.write(self.style.SUCCESS(result.summary))
