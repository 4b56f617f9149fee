"""URL canonicalisation: one spelling per page, so copies of a page compare equal.

Tracking parameters are stripped by courlan's maintained rule list (utm_*, fbclid, gclid,
mc_cid/mc_eid, *_medium, *_campaign, *_source, ref, …), plus the few common news-site
trackers it misses (`EXTRA_TRACKERS`). Parameters that identify content (`id=`, `p=`,
`story=`, `v=` …) are kept, and sorted so their order does not matter. AMP variants and
mobile hosts fold into the page they copy; a trailing slash and `index.html` go.

A fragment is dropped when it is navigation or tracking (``#comments``, ``#top``, ``#0``,
``#xtor=RSS-1``) and kept when it names content: some feeds' entries differ only by it (a
comments feed's ``#comment-210335``, a "now" page's ``#2026-02-16``, a list's ``#item``).

`canonical_url` is the one spelling copies are compared by; `url_identity` is the key two
URLs must share to be the same page: it also ignores the scheme and a leading ``www.``.
`display_url` is the link to show: the feed's own, less its trackers, and otherwise as the
site wrote it (a trailing slash or a mobile host may matter to the site).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url
from courlan.clean import TRACKERS_RE

_DEFAULT_PORTS = {"http": 80, "https": 443}
# News-site trackers that courlan's TRACKERS_RE does not match.
EXTRA_TRACKERS = frozenset(
    {
        "ocid", "cvid", "cmpid", "cmp", "icid", "maca", "smid", "smtyp", "feature", "ito", "taid",
        "spm", "guccounter", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking", "wt.mc_id",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "sr_share",
        "__twitter_impression", "dicbo", "rss", "via", "share", "at_custom1",
        "at_custom2", "at_custom3", "at_custom4", "at_link_id", "at_link_origin",
        "at_link_type", "at_ptr_name", "at_bbc_team",
    }
)  # fmt: skip
_AMP_PARAMS = {"amp": {"", "1", "true"}, "outputtype": {"amp"}}
_AMP_CACHE = re.compile(r"^[a-z0-9-]+\.cdn\.ampproject\.org$")
_INDEX_PAGE = re.compile(r"/(?:index|default)\.(?:html?|php|aspx?)$", re.IGNORECASE)
_MOBILE_HOST = re.compile(r"^(?:m|mobile|amp)\.(?=[^.]+\.[^.]+)")
_NAVIGATION_FRAGMENTS = frozenset(
    {
        "comments", "respond", "top", "main", "content", "maincontent", "main-content", "more",
        "article", "page", "skip", "disqus_thread", "comment-form", "reply", "share", "header",
        "footer", "nav", "navigation",
    }
)  # fmt: skip
_TRACKING = r".*=.*|utm_.*|at_.*"  # fragments such as #xtor=RSS-1 (page=2 included)
_TRACKING_FRAGMENT = re.compile(rf"^(?:{_TRACKING})$", re.IGNORECASE)
_NAVIGATION_FRAGMENT = re.compile(rf"^(?:\d*|more-\d+|{_TRACKING})$", re.IGNORECASE)


def _content_fragment(fragment: str) -> str:
    """The fragment if it names content, else "" (see the module docstring)."""
    fragment = fragment.strip()
    if fragment.lower() in _NAVIGATION_FRAGMENTS or _NAVIGATION_FRAGMENT.match(fragment):
        return ""
    return fragment


def _unwrap_amp_cache(url: str) -> str:
    """``https://x-com.cdn.ampproject.org/c/s/x.com/a`` -> ``https://x.com/a``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url
    if not _AMP_CACHE.match(host):
        return url
    match = re.match(r"^/[a-z]/(s/)?(.+)$", parts.path)
    if not match:
        return url
    scheme = "https" if match[1] else "http"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{match[2]}{query}"


def _tracker(name: str) -> bool:
    lowered = name.lower()
    return lowered in EXTRA_TRACKERS or bool(TRACKERS_RE.search(lowered))


def _keep_param(name: str, value: str) -> bool:
    lowered = name.lower()
    if _tracker(lowered):
        return False
    return not (lowered in _AMP_PARAMS and value.lower() in _AMP_PARAMS[lowered])


def display_url(url: str) -> str:
    """`url` without tracking parameters and tracking fragments; otherwise untouched."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _tracker(k)]
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    fragment = "" if _TRACKING_FRAGMENT.match(parts.fragment) else parts.fragment
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def _clean_path(path: str) -> str:
    path = _INDEX_PAGE.sub("/", path)
    for suffix in ("/amp/", "/amp", ".amp"):
        if path.endswith(suffix) and len(path) > len(suffix):
            path = path[: -len(suffix)]
            break
    if path.startswith("/amp/"):
        path = path[4:]
    path = path.rstrip("/")
    return path or "/"


def canonical_url(url: str) -> str:
    """The clean, canonical spelling of an absolute http(s) URL; "" for anything else."""
    url = _unwrap_amp_cache(url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    host = _MOBILE_HOST.sub("", host)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    try:
        cleaned = urlsplit(normalize_url(urlunsplit((scheme, netloc, parts.path, parts.query, ""))))
    except ValueError:
        cleaned = urlsplit(urlunsplit((scheme, netloc, parts.path, parts.query, "")))
    pairs = [
        (k, v) for k, v in parse_qsl(cleaned.query, keep_blank_values=True) if _keep_param(k, v)
    ]
    query = urlencode(sorted(pairs))
    path = _clean_path(cleaned.path)
    return urlunsplit(
        (scheme, cleaned.netloc or netloc, path, query, _content_fragment(parts.fragment))
    )


def url_identity(url: str) -> str:
    """What two URLs must share to be the same page: canonical, without scheme and www."""
    canonical = canonical_url(url)
    if not canonical:
        return ""
    rest = canonical.split("://", 1)[1]
    return rest.removeprefix("www.")


def same_site(first: str, second: str) -> bool:
    """True when two URLs share a registrable-looking domain (the last two host labels)."""

    def site(url: str) -> str:
        labels = (urlsplit(url).hostname or "").removeprefix("www.").split(".")
        # example.co.uk, example.com.au: a short second-level label under a country code.
        keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
        return ".".join(labels[-keep:])

    return bool(site(first)) and site(first) == site(second)
