"""Logging helpers referenced from `LOGGING` in settings."""

import logging


class NoClientErrorTracebacks(logging.Filter):
    """Drop the traceback from records about 4xx responses (a refused admin page, a 404).

    Django logs `PermissionDenied` with the exception attached, so every 403 in the admin printed a
    full traceback. The one-line message ("Forbidden (Permission denied): /admin/…") is enough;
    5xx records keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
