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


def related_stories() -> list[tuple[str, str, str, int]]:
    """(outlet, title, lead, minutes ago) of each item in the page's "Related Articles"."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("Related Articles") + 1 :]
    stories = []
    index = 0
    while index < len(block):
        following = block[index + 1].strip() if index + 1 < len(block) else ""
        if block[index].strip() and following.endswith("ago"):
            outlet, age = block[index].strip(), block[index + 1].strip()
            title = block[index + 3].strip()
            lead = block[index + 4].strip() if index + 4 < len(block) else ""
            lead = "" if lead.endswith("ago") or lead in {"CNN", "News24"} else lead
            minutes = int(age.split()[0]) if age[0].isdigit() else 60
            stories.append((outlet, title, lead, minutes))
            index += 4
        else:
            index += 1
    return stories
