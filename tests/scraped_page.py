"""The shared scraped news page, wrapped as a web page the way a news site would serve it."""

from __future__ import annotations

from html import escape

from tests.conftest import SHARED

PAGE = SHARED / "fixtures" / "scraped-news-page.txt"
CHROME_STARTS = "Hashtags"
CHROME_MARKERS = (
    "Hashtags",
    "Try Our AI Features",
    "Daily8",
    "No comments yet",
    "Related Articles",
    "Chinese refineries",
    "News24",
)


def article_lines() -> list[str]:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    return lines[: lines.index(CHROME_STARTS)]


def page_html() -> str:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    cut = lines.index(CHROME_STARTS)
    title, body, chrome = lines[0], lines[1:cut], lines[cut:]
    paragraphs = "\n".join(f"<p>{escape(line)}</p>" for line in body if line.strip())
    aside = "\n".join(f"<p>{escape(line)}</p>" for line in chrome if line.strip())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{escape(title)}</h1>{paragraphs}</article>"
        f"<aside>{aside}</aside><footer>© Daily8</footer></body></html>"
    )
