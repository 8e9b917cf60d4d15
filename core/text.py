import markdown as _markdown
import nh3


def render_markdown(text: str) -> str:
    """Markdown → HTML with everything but harmless formatting stripped (no scripts, no styles)."""
    return nh3.clean(_markdown.markdown(text or "", extensions=["extra", "sane_lists"]))
