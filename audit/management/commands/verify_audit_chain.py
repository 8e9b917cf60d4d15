from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import checkpoints_read
from audit.verify import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain against the signed checkpoints. "
        "Exit status 0 only when it is intact."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints", type=Path, default=None,
            help="checkpoint file to hold the chain to (default: STEWARD_AUDIT_CHECKPOINT_FILE), "
                 "e.g. the copy kept in write-once storage",
        )

    def handle(self, *args, checkpoints=None, **options):
        def progress(checked):
            self.stderr.write(f"… {checked} events verified")

        found = checkpoints_read(checkpoints) if checkpoints else None
        report = audit_chain_verify(checkpoints=found, progress=progress if options["verbosity"] > 1 else None)
        against = (
            f"; held to the checkpoint of event #{report.checkpoint['seq']} ({report.checkpoint['time']})"
            if report.checkpoint else "; no signed checkpoint to hold it to"
        )
        if not report.ok:
            where = f"event #{report.first_broken_seq}" if report.first_broken_seq is not None else "the trail"
            raise CommandError(
                f"audit chain BROKEN at {where} (id {report.first_broken_id}): {report.reason}; "
                f"{report.checked} events verified before it{against}"
            )
        self.stdout.write(f"audit chain intact: {report.checked} events verified{against}")
