import threading
from functools import lru_cache

import markdown as _markdown
import nh3

_local = threading.local()
# Descriptions are short and read far more often than written: most renders are repeats.
_CACHED_UP_TO = 4000  # characters; longer texts are rendered every time (bounded memory)


def _renderer() -> _markdown.Markdown:
    # Building a Markdown instance (loading its extensions) costs more than rendering a short
    # description, so each thread keeps one and resets it between texts.
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = _markdown.Markdown(extensions=["extra", "sane_lists"])
    return md


def _render(text: str) -> str:
    md = _renderer()
    try:
        return nh3.clean(md.convert(text))
    finally:
        md.reset()


@lru_cache(maxsize=4096)
def _render_cached(text: str) -> str:
    return _render(text)


def render_markdown(text: str) -> str:
    """Markdown → HTML with everything but harmless formatting stripped (no scripts, no styles).

    A pure function of the text, so repeats come from a bounded cache."""
    text = text or ""
    return _render_cached(text) if len(text) <= _CACHED_UP_TO else _render(text)
