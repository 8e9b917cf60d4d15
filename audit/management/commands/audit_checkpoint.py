from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import CheckpointMismatch, checkpoint_path, checkpoint_write


class Command(BaseCommand):
    help = "Seal waiting audit events and append a signed checkpoint of the chain's head to the checkpoint file."

    def handle(self, *args, **options):
        try:
            written = checkpoint_write()
        except CheckpointMismatch as exc:
            raise CommandError(str(exc)) from exc
        if written is None:
            self.stdout.write("no new events since the last checkpoint; nothing written")
        else:
            self.stdout.write(f"checkpoint of event #{written['seq']} ({written['hash'][:12]}…) appended to {checkpoint_path()}")
