"""`forensis api-token issue|revoke|list`: partner tokens from the command line (the same services as the
administrator's page; audited as the system)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from forensis.accounts.models import Agency
from forensis.api import tokens
from forensis.api.models import Access, PartnerToken, Resource


def _expiry(value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"--expires must be a date like 2027-12-31, not {value!r}.") from None
    return timezone.make_aware(datetime.combine(day, time.max))


def _messages(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Issue, revoke and list partner API tokens (see docs/api.md)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="issue|revoke|list")
        issue = sub.add_parser("issue", help="Issue a token; prints it once.")
        issue.add_argument("name", help="A short name, e.g. police-rms (letters, digits, hyphens).")
        issue.add_argument("--agency", required=True, help="The agency's code.")
        issue.add_argument(
            "--resources",
            default=",".join(Resource.values),
            help=f"Comma-separated, from: {', '.join(Resource.values)} (default: all).",
        )
        issue.add_argument("--write", action="store_true", help="Read and write (default: read only).")
        default_expiry = (timezone.localdate() + timedelta(days=365)).isoformat()
        issue.add_argument("--expires", default=default_expiry, help="Last valid day, YYYY-MM-DD (default: a year).")
        issue.add_argument("--rate-limit", type=int, default=600, help="Requests per minute (default 600).")
        issue.add_argument("--webhook", default="", help="Optional https:// address to push feed entries to.")
        revoke = sub.add_parser("revoke", help="Revoke a token at once.")
        revoke.add_argument("name")
        revoke.add_argument("--reason", required=True)
        sub.add_parser("list", help="List tokens and their state.")

    def handle(self, *args, subcommand: str, **options):
        getattr(self, f"_{subcommand}")(**options)

    def _issue(self, *, name, agency, resources, write, expires, rate_limit, webhook, **_):
        found = Agency.objects.filter(code=agency).first()
        if found is None:
            raise CommandError(f"No agency with code {agency!r}.")
        try:
            issued = tokens.issue_token(
                None,
                name=name,
                agency=found,
                resources=[r.strip() for r in resources.split(",") if r.strip()],
                access=Access.WRITE if write else Access.READ,
                expires_at=_expiry(expires),
                rate_limit=rate_limit,
                webhook_url=webhook,
            )
        except ValidationError as error:
            raise CommandError(_messages(error)) from None
        self.stdout.write(f"Token {name} for {found.code} (shown once, keep it secret):\n{issued.key}")
        if issued.webhook_secret:
            self.stdout.write(f"Webhook signing secret (shown once):\n{issued.webhook_secret}")

    def _revoke(self, *, name, reason, **_):
        token = PartnerToken.objects.filter(name=name).first()
        if token is None:
            raise CommandError(f"No token named {name!r}.")
        try:
            tokens.revoke_token(None, token, reason=reason)
        except ValidationError as error:
            raise CommandError(_messages(error)) from None
        self.stdout.write(f"Token {name} revoked.")

    def _list(self, **_):
        for token in PartnerToken.objects.select_related("agency"):
            state = "revoked" if token.is_revoked else "expired" if token.is_expired else "active"
            self.stdout.write(
                f"{token.name:24} {token.agency.code:12} {token.access:5} {state:8} "
                f"expires {token.expires_at:%Y-%m-%d}  fns_{token.prefix}_…  {','.join(token.resources)}"
            )
