"""Rendering the page's templates: Jinja2, autoescaping on, every name defined."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from bot.store.ui_auth import Scope


def scope_text(scope: Scope) -> str:
    """Who a session or link is for, in words."""
    if scope.operator:
        return "the operator (every workspace)"
    return f"{scope.user} in {scope.platform} workspace {scope.workspace}"


class Pages:
    """Renders the templates, escaped."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def text(self, name: str, **values: Any) -> str:
        """`name` filled with `values`, escaped."""
        values = {"base": self._base, "who": "", "csrf": "", **values}
        return self._env.get_template(name).render(**values)

    def render(self, name: str, *, status: int = 200, **values: Any) -> web.Response:
        """`name` filled with `values` (escaped), as an HTML response."""
        return html(self.text(name, **values), status=status)

    def message(self, heading: str, text: str, *, status: int) -> web.Response:
        return self.render("message.html", heading=heading, text=text, status=status)


def html(text: str, *, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")
