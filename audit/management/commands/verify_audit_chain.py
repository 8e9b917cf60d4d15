from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain. Exit status 0 only when it is intact."

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{report.first_broken_seq} "
                f"(id {report.first_broken_id}): {report.reason}; {report.checked} events verified before it"
            )
        self.stdout.write(f"audit chain intact: {report.checked} events verified")
