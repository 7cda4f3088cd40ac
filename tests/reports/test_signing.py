"""PAdES signing of reports: the laboratory's key signs, pyHanko's validator checks, and the key command."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader

from forensis.core.pdf import build_document, para
from forensis.reports.signing import (
    FIELD_NAME,
    SigningKeyMissing,
    check_signature,
    generate_self_signed,
    reset_signer_cache,
    sign_pdf,
    signing_certificate,
)

LAB = "Test Forensic Laboratory"


def make_pair(directory: Path, common_name: str = LAB, **kwargs) -> Path:
    generate_self_signed(directory / "key.pem", directory / "cert.pem", common_name=common_name, **kwargs)
    return directory


def use_pair(settings, directory: Path, passphrase: str = "") -> None:
    settings.FORENSIS_SIGNING_KEY = directory / "key.pem"
    settings.FORENSIS_SIGNING_CERT = directory / "cert.pem"
    settings.FORENSIS_SIGNING_KEY_PASSPHRASE = passphrase
    reset_signer_cache()


@pytest.fixture(scope="module")
def lab_pair(tmp_path_factory) -> Path:
    """One key pair for the module: RSA 3072 generation is the slow part."""
    return make_pair(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def other_lab_pair(tmp_path_factory) -> Path:
    """Another laboratory's self-signed pair, under the very same name."""
    return make_pair(tmp_path_factory.mktemp("other-lab"))


@pytest.fixture
def lab_key(settings, lab_pair):
    use_pair(settings, lab_pair)
    yield lab_pair
    reset_signer_cache()


def report_pdf() -> bytes:
    return build_document(
        [para("Item 1: one black hooded sweatshirt. Result: human blood detected.")],
        title="Laboratory report",
        reference="NFSS-2026-000123",
    )


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return report_pdf()


# --- signing and checking ------------------------------------------------------------------------------------


def test_a_signed_report_validates(lab_key, unsigned):
    signed = sign_pdf(unsigned, reason="Report issued", location="Ladyville, Belize", contact="lab@example.org")

    assert signed.startswith(unsigned), "the signature is an incremental update: the original bytes stay as they were"
    result = check_signature(signed)
    assert (result.signed, result.intact, result.valid, result.trusted, result.covers_whole_file) == (
        True,
        True,
        True,
        True,
        True,
    )
    assert result.ok
    assert result.signer == LAB
    assert result.signed_at is not None and abs(datetime.now(UTC) - result.signed_at) < timedelta(minutes=5)
    assert LAB in result.summary


def test_the_signature_is_pades_in_an_invisible_field(lab_key, unsigned):
    signed = sign_pdf(unsigned, reason="Report issued", location="Ladyville")

    fields = PdfReader(io.BytesIO(signed)).get_fields()
    assert set(fields) == {FIELD_NAME}
    value = fields[FIELD_NAME]["/V"]
    assert value["/SubFilter"] == "/ETSI.CAdES.detached"
    assert value["/Reason"] == "Report issued" and value["/Location"] == "Ladyville"
    widget = PdfReader(io.BytesIO(signed)).trailer["/Root"]["/AcroForm"]["/Fields"][0].get_object()
    assert [float(v) for v in widget["/Rect"]] == [0, 0, 0, 0]


def test_one_changed_byte_breaks_the_signature(lab_key, unsigned):
    signed = sign_pdf(unsigned, reason="Report issued")
    position = signed.index(b"ReportLab")  # the producer in the document information, well inside the signed range
    tampered = signed[:position] + b"X" + signed[position + 1 :]

    result = check_signature(tampered)
    assert result.signed
    assert not result.intact and not result.valid and not result.trusted and not result.ok
    assert "changed" in result.summary


def test_a_signature_by_another_laboratory_is_intact_but_not_trusted(settings, lab_pair, other_lab_pair, unsigned):
    use_pair(settings, other_lab_pair)
    signed_elsewhere = sign_pdf(unsigned, reason="Report issued")

    use_pair(settings, lab_pair)
    result = check_signature(signed_elsewhere)
    assert result.signed and result.intact and result.valid and result.covers_whole_file
    assert not result.trusted and not result.ok
    assert result.signer == LAB, "same name, different key: the name alone proves nothing"
    assert "not made with this laboratory's signing key" in result.summary


def test_content_appended_after_signing_is_reported(lab_key, unsigned):
    signed = sign_pdf(unsigned, reason="Report issued")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/Forensis"] = generic.NameObject("/Appended")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)

    result = check_signature(out.getvalue())
    assert result.intact and result.valid and result.trusted
    assert not result.covers_whole_file and not result.ok
    assert "added to the file after signing" in result.summary


def test_an_unsigned_pdf_is_not_signed(lab_key, unsigned):
    result = check_signature(unsigned)
    assert not result.signed and not result.trusted and not result.ok
    assert result.signer == "" and result.signed_at is None
    assert "no digital signature" in result.summary


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >>\n", bytes(range(256)) * 8],
    ids=["empty", "text", "pdf-header-only", "binary"],
)
def test_garbage_is_not_signed_and_does_not_raise(lab_key, data):
    result = check_signature(data)
    assert not result.signed and not result.ok
    assert result.summary


def test_a_truncated_signed_pdf_does_not_raise(lab_key, unsigned):
    signed = sign_pdf(unsigned, reason="Report issued")
    result = check_signature(signed[: len(signed) - 500])
    assert not result.ok


def test_checking_works_without_a_configured_certificate(settings, lab_key, unsigned, tmp_path):
    signed = sign_pdf(unsigned, reason="Report issued")
    use_pair(settings, tmp_path / "nothing-here")

    result = check_signature(signed)
    assert result.signed and result.intact and result.valid and not result.trusted
    assert "not configured" in result.summary


# --- the key and certificate -----------------------------------------------------------------------------------


def test_missing_key_files_name_the_paths_and_the_command(settings, tmp_path, unsigned):
    use_pair(settings, tmp_path / "signing")

    with pytest.raises(SigningKeyMissing, match="forensis signing-key --self-signed") as raised:
        sign_pdf(unsigned, reason="Report issued")
    assert str(tmp_path / "signing" / "key.pem") in str(raised.value)
    with pytest.raises(SigningKeyMissing, match="certificate does not exist"):
        signing_certificate()


def test_a_wrong_passphrase_or_a_file_that_is_not_pem_raise_signing_key_missing(settings, tmp_path, unsigned):
    make_pair(tmp_path, passphrase="correct horse")
    use_pair(settings, tmp_path, passphrase="correct horse")
    assert check_signature(sign_pdf(unsigned, reason="Report issued")).trusted

    use_pair(settings, tmp_path, passphrase="wrong")
    with pytest.raises(SigningKeyMissing, match=r"key cannot be loaded.*FORENSIS_SIGNING_KEY_PASSPHRASE"):
        sign_pdf(unsigned, reason="Report issued")

    use_pair(settings, tmp_path, passphrase="")
    with pytest.raises(SigningKeyMissing, match="key cannot be loaded"):
        sign_pdf(unsigned, reason="Report issued")

    (tmp_path / "cert.pem").write_text("not a certificate")
    use_pair(settings, tmp_path, passphrase="correct horse")
    with pytest.raises(SigningKeyMissing, match="certificate"):
        sign_pdf(unsigned, reason="Report issued")


def test_a_key_that_does_not_belong_to_the_certificate_is_refused(settings, lab_pair, other_lab_pair, unsigned):
    settings.FORENSIS_SIGNING_KEY = other_lab_pair / "key.pem"
    settings.FORENSIS_SIGNING_CERT = lab_pair / "cert.pem"
    settings.FORENSIS_SIGNING_KEY_PASSPHRASE = ""
    reset_signer_cache()
    with pytest.raises(SigningKeyMissing, match="does not belong to the certificate"):
        sign_pdf(unsigned, reason="Report issued")


def test_an_expired_certificate_does_not_sign(settings, tmp_path, unsigned):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LAB)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    use_pair(settings, tmp_path)
    with pytest.raises(SigningKeyMissing, match="expired"):
        sign_pdf(unsigned, reason="Report issued")


def test_the_generated_pair_is_a_document_signing_certificate(tmp_path):
    key_path, cert_path = tmp_path / "deep" / "dir" / "key.pem", tmp_path / "deep" / "dir" / "cert.pem"
    generate_self_signed(key_path, cert_path, common_name=LAB, days=30)

    assert key_path.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == LAB
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == LAB
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert timedelta(days=29) < cert.not_valid_after_utc - datetime.now(UTC) <= timedelta(days=30)
    serialization.load_pem_private_key(key_path.read_bytes(), password=None)


def test_generating_refuses_to_overwrite_unless_asked(tmp_path):
    make_pair(tmp_path)
    before = (tmp_path / "key.pem").read_bytes()

    with pytest.raises(FileExistsError, match="--force"):
        make_pair(tmp_path)
    assert (tmp_path / "key.pem").read_bytes() == before

    make_pair(tmp_path, overwrite=True)
    assert (tmp_path / "key.pem").read_bytes() != before


# --- forensis signing-key -----------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("signing_key", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def configured(settings, tmp_path):
    """Settings pointing at a pair that does not exist yet."""
    use_pair(settings, tmp_path / "signing")
    settings.FORENSIS_LAB_NAME = "Forensis Test Service"
    yield tmp_path / "signing"
    reset_signer_cache()


def test_the_command_creates_a_demo_pair(configured, unsigned):
    output = run("--self-signed")

    assert (configured / "key.pem").is_file() and (configured / "cert.pem").is_file()
    assert "Forensis Test Service (demo signing key)" in output
    assert check_signature(sign_pdf(unsigned, reason="Report issued")).ok


def test_if_missing_leaves_an_existing_pair_alone(configured):
    run("--self-signed", "--if-missing")
    key, cert = (configured / "key.pem").read_bytes(), (configured / "cert.pem").read_bytes()

    output = run("--self-signed", "--if-missing")
    assert "nothing done" in output
    assert (configured / "key.pem").read_bytes() == key and (configured / "cert.pem").read_bytes() == cert


def test_if_missing_refuses_half_a_pair(configured):
    run("--self-signed")
    (configured / "cert.pem").unlink()
    with pytest.raises(CommandError, match="partner is missing"):
        run("--self-signed", "--if-missing")


def test_the_command_refuses_to_overwrite_without_force(configured):
    run("--self-signed", "--common-name", "First")
    key = (configured / "key.pem").read_bytes()

    with pytest.raises(CommandError, match="--force"):
        run("--self-signed")
    assert (configured / "key.pem").read_bytes() == key

    output = run("--self-signed", "--force", "--common-name", "Second")
    assert (configured / "key.pem").read_bytes() != key
    assert "CN=Second" in output


def test_the_command_shows_the_certificate_and_its_fingerprint(configured):
    run("--self-signed", "--common-name", "Shown Lab")
    cert = x509.load_pem_x509_certificate((configured / "cert.pem").read_bytes())

    output = run()
    expected = ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
    assert f"SHA-256 fingerprint: {expected}" in output
    assert str(configured / "key.pem") in output and str(configured / "cert.pem") in output
    assert "CN=Shown Lab" in output
    assert f"{cert.serial_number:X}" in output
    assert "The key matches the certificate." in output


def test_the_command_says_what_to_do_when_the_key_is_missing(configured):
    with pytest.raises(CommandError, match="forensis signing-key --self-signed"):
        run()


def test_options_that_need_self_signed_are_refused_alone(configured):
    with pytest.raises(CommandError, match="only go with --self-signed"):
        run("--force")


def test_the_command_checks_a_signed_report(configured, tmp_path, unsigned):
    run("--self-signed")
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(sign_pdf(unsigned, reason="Report issued"))
    output = run("--check", str(signed))
    assert "Laboratory's key: yes" in output and "has not been changed" in output

    (tmp_path / "unsigned.pdf").write_bytes(unsigned)
    with pytest.raises(CommandError, match="no digital signature"):
        run("--check", str(tmp_path / "unsigned.pdf"))
