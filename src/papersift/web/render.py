"""Rendering helpers shared by the page modules: templates, highlighting, markdown, paging."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from jinja2 import Environment
from markupsafe import Markup, escape

from papersift.index.lexical import clean_query
from papersift.models import Paper
from papersift.rank.daily import daily_date
from papersift.web import deps

_WORD = re.compile(r"\w+", re.UNICODE)
STOP = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "is", "or", "with", "by", "at"}


def query_terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(clean_query(query or ""))]
    return [w for w in dict.fromkeys(words) if len(w) > 1 and w not in STOP][:20]


def highlight(text: str | None, query: str | None) -> Markup:
    """Escape ``text`` and wrap words that start with a query term in <mark>.

    The raw text is split on matches first and every piece is escaped on its own, so neither
    the text nor the query can inject markup (and entities are never split).
    """
    text = text or ""
    terms = query_terms(query or "")
    if not terms:
        return Markup(escape(text))
    pat = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
                     + r")\w*", re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pat.finditer(text):
        out.append(str(escape(text[pos:m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%b} {value.day}, {value.year}"


def authors_short(authors: list[str], n: int = 4) -> list[str]:
    return authors[:n]


def register_filters(env: Environment) -> None:
    env.filters["fmt_date"] = fmt_date
    env.filters["daily_date"] = daily_date
    env.globals["qs"] = qs


def qs(base: dict[str, Any] | None = None, **changes: Any) -> str:
    """A query string from ``base`` with ``changes`` applied; empty values dropped."""
    params = {**(base or {}), **changes}
    clean = {k: v for k, v in params.items() if v is not None and v != ""}
    return ("?" + urlencode(clean)) if clean else ""


def render(request: Request, template: str, ctx: dict[str, Any] | None = None, status: int = 200,
           headers: dict[str, str] | None = None):
    sess = deps.current(request)
    context = {"user": sess.user if sess else None, "csrf_token": deps.csrf_token(request),
               "path": request.url.path, **(ctx or {})}
    resp = request.app.state.templates.TemplateResponse(request, template, context, status_code=status,
                                                        headers=headers)
    deps.attach_csrf_cookie(request, resp)
    return resp


# -- markdown ------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~])")


def md_text(text: str) -> str:
    """Neutralise HTML (escaped entities) and markdown syntax in untrusted text."""
    from html import escape as html_escape

    return _MD_SPECIAL.sub(r"\\\1", html_escape(text or "", quote=True))


def paper_markdown(p: Paper, base_url: str) -> str:
    lines = [f"# {md_text(p.title)}", ""]
    if p.authors:
        lines += [f"**Authors:** {md_text(', '.join(p.authors))}", ""]
    meta = []
    if p.published:
        meta.append(f"**Published:** {p.published.isoformat()}")
    dd = daily_date(p)
    if dd:
        meta.append(f"**Daily date:** {dd.isoformat()}")
    if p.categories:
        meta.append(f"**Categories:** {md_text(' '.join(p.categories))}")
    meta.append(f"**Upvotes:** {p.upvotes}")
    lines += ["  \n".join(meta), ""]
    if p.abstract:
        lines += ["## Abstract", "", md_text(p.abstract), ""]
    links = [(k, v) for k, v in p.links.items() if v.startswith(("https://", "http://"))]
    if links:
        lines += ["## Links", ""]
        lines += [f"- {md_text(k)}: {autolink(v)}" for k, v in links]
        lines.append("")
    lines.append(f"Paper page: {autolink(base_url.rstrip('/') + paper_path(p.id))}")
    return "\n".join(lines) + "\n"


def paper_path(paper_id: str) -> str:
    """The paper page's path, the id percent-encoded (ids are data: any character may occur)."""
    return "/papers/" + quote(paper_id, safe="/", errors="replace")


def autolink(url: str) -> str:
    """A Markdown autolink ``<url>`` that nothing in ``url`` can end early or turn into HTML."""
    safe = (c if c.isascii() and c.isprintable() and c not in '<> "`\\' else quote(c, safe="", errors="replace")
            for c in url)
    return "<" + "".join(safe) + ">"
