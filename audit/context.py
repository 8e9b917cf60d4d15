"""Per-request context (request id, source IP, actor) carried to the audit writer.

Set by `RequestContextMiddleware` for web requests; Celery tasks and commands may set it with
`audit_context(...)`. Context variables keep concurrent requests (threads, async) apart.
"""

import contextlib
import contextvars
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_source_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("source_ip", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return _request_id.get()


def current_source_ip() -> str | None:
    return _source_ip.get()


@contextlib.contextmanager
def audit_context(*, request_id: str | None = None, source_ip: str | None = None):
    t1 = _request_id.set(request_id or new_request_id())
    t2 = _source_ip.set(source_ip)
    try:
        yield
    finally:
        _request_id.reset(t1)
        _source_ip.reset(t2)
