from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError
from core.services import token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it on the last line (for scripts)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token.")
        parser.add_argument(
            "--scope", choices=["read", "write"], default=None,
            help="read (GET only) or write; default write, and read for auditors (their only choice).",
        )

    def handle(self, *args, username, name, scope, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
        try:
            token, key = token_create(user=user, actor=None, name=name, scope=scope)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"{token.scope} token {token.prefix}… created for {username}; it is shown only once:")
        self.stdout.write(key)
