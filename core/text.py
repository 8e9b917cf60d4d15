import threading

import markdown as _markdown
import nh3

_local = threading.local()


def _renderer() -> _markdown.Markdown:
    # Building a Markdown instance (loading its extensions) costs more than rendering a short
    # description, so each thread keeps one and resets it between texts.
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = _markdown.Markdown(extensions=["extra", "sane_lists"])
    return md


def render_markdown(text: str) -> str:
    """Markdown → HTML with everything but harmless formatting stripped (no scripts, no styles)."""
    md = _renderer()
    try:
        return nh3.clean(md.convert(text or ""))
    finally:
        md.reset()
