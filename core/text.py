import threading

import markdown as _markdown
import nh3
from cachetools import LRUCache

_local = threading.local()
# Descriptions are short and read far more often than written: most renders are repeats. The
# cache is bounded by characters held (text and HTML), not by entries, so that every description
# of a large inventory fits (10,000 short ones are about 2 million characters; a count of 4,096
# entries re-rendered most of them) while a few long ones cannot use much memory.
_CACHED_UP_TO = 4000  # characters; longer texts are rendered every time
_cache = LRUCache(maxsize=8_000_000, getsizeof=lambda entry: entry[1] + len(entry[0]))  # (html, len(text))
_cache_lock = threading.Lock()


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


def _render_cached(text: str) -> str:
    with _cache_lock:
        entry = _cache.get(text)
    if entry is None:
        entry = (_render(text), len(text))
        with _cache_lock:
            _cache[text] = entry
    return entry[0]


def render_markdown(text: str) -> str:
    """Markdown → HTML with everything but harmless formatting stripped (no scripts, no styles).

    A pure function of the text, so repeats come from a bounded cache."""
    text = text or ""
    return _render_cached(text) if len(text) <= _CACHED_UP_TO else _render(text)
