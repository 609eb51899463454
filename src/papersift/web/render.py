"""Rendering helpers shared by the page modules: templates, highlighting, markdown, paging."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from jinja2 import Environment
from markupsafe import Markup, escape

from papersift.cite import is_web_url, precision
from papersift.index.lexical import clean_query
from papersift.models import Paper
from papersift.rank.daily import daily_date
from papersift.web import deps

_WORD = re.compile(r"\w+", re.UNICODE)
STOP = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "is", "or", "with", "by", "at"}


def query_terms(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(clean_query(query or ""))]
    return [w for w in dict.fromkeys(words) if len(w) > 1 and w not in STOP][:20]


_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\]")


def highlight(text: str | None, query: str | None) -> Markup:
    """Escape ``text`` and wrap words that start with a query term in <mark>, never inside a
    formula ($...$, \\(...\\)): a mark there would split it and KaTeX could not render it.

    The raw text is split on matches first and every piece is escaped on its own, so neither
    the text nor the query can inject markup (and entities are never split).
    """
    text = text or ""
    terms = query_terms(query or "")
    if not terms:
        return Markup(escape(text))
    pat = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
                     + r")\w*", re.IGNORECASE)
    formulas = [(f.start(), f.end()) for f in _MATH.finditer(text)] if "$" in text or "\\" in text else []
    out: list[str] = []
    pos = 0
    for m in pat.finditer(text):
        if any(a <= m.start() < b for a, b in formulas):
            continue
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
    for fn in (published_iso, published_text, added_date, total_upvotes, paper_links, code_url,
               short_abstract, paper_path):
        env.globals[fn.__name__] = fn


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


# -- paper facts shared by cards, pages, Markdown, feeds ----------------------------------------
def published_iso(p: Paper) -> str | None:
    """The publication date as exact as it is known: 2024-01-02, 2024-01 or 2024."""
    prec, d = precision(p), p.published
    if d is None:
        return None
    return {"year": f"{d.year:04d}", "month": f"{d.year:04d}-{d.month:02d}"}.get(prec or "day", d.isoformat())


def published_text(p: Paper) -> str:
    """"Jan 2, 2024", "January 2024", "2024", or "date unknown" (never a borrowed date)."""
    prec, d = precision(p), p.published
    if d is None:
        return "date unknown"
    if prec == "year":
        return str(d.year)
    if prec == "month":
        return f"{d:%B} {d.year}"
    return fmt_date(d)


def added_date(p: Paper) -> date | None:
    """The day papersift first saw a paper that has neither a publication date nor a daily-feed
    date: the daily feed places it there and labels it "added"."""
    if p.published is None and p.submitted_on_daily_at is None and p.first_seen is not None:
        return p.first_seen.date() if isinstance(p.first_seen, datetime) else p.first_seen
    return None


def total_upvotes(p: Paper) -> int:
    """Upvotes as shown: the source's (Hugging Face) plus papersift's own, each counted once."""
    return int(getattr(p, "source_upvotes", 0) or 0) + int(p.upvotes or 0)


def code_url(p: Paper) -> str | None:
    repo = getattr(p, "github_repo", None)
    if repo and not is_web_url(repo) and repo.count("/") == 1:
        repo = f"https://github.com/{repo}"
    for url in (repo, p.links.get("code")):
        if is_web_url(url):
            return url
    return None


def paper_links(p: Paper) -> list[tuple[str, str]]:
    """(label, url) of the paper elsewhere: arXiv, PDF, code, project page; web URLs only."""
    out: list[tuple[str, str]] = []
    abs_url = p.links.get("abs")
    if abs_url and is_web_url(abs_url):
        out.append(("arXiv" if "arxiv.org" in abs_url else "Abstract page", abs_url))
    if is_web_url(p.links.get("pdf")):
        out.append(("PDF", p.links["pdf"]))
    code = code_url(p)
    if code:
        out.append(("Code", code))
    if is_web_url(p.links.get("project")):
        out.append(("Project page", p.links["project"]))
    return out


SHORT_ABSTRACT = 280
_MATH_OPEN = re.compile(r"\\\(|\\\[|\$")


def short_abstract(text: str | None, n: int = SHORT_ABSTRACT) -> str | None:
    """The first ``n``-odd characters of an abstract, cut at a word boundary and never inside a
    $...$ or \\(...\\) formula (a cut formula would not render); None when it is short already."""
    text = text or ""
    if len(text) <= n + 40:
        return None
    cut = text.rfind(" ", 0, n)
    cut = cut if cut > n // 2 else n
    head = text[:cut]
    # an odd number of unescaped $ (or an unclosed \( / \[) means the cut fell inside a formula
    while head:
        dollars = len(re.findall(r"(?<!\\)\$", head))
        opened = head.count("\\(") - head.count("\\)") + head.count("\\[") - head.count("\\]")
        if dollars % 2 == 0 and opened <= 0:
            break
        starts = [m.start() for m in _MATH_OPEN.finditer(head)]
        head = head[:starts[-1]] if starts else ""
    head = head.rstrip(" ,;:")
    return (head + " …") if head else None


# -- markdown ------------------------------------------------------------------------------------
# What CommonMark reads as raw HTML or an autolink where text has a "<": an open or closing tag, a
# comment, a processing instruction, a declaration, CDATA, <scheme:...>. Only these "<" are written
# as "&lt;" (which renders as "<"): "$a<b$" or "x < y" are no tag and stay exactly as they are.
_RAW_HTML = re.compile(
    r"<(?=[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\"))?)*\s*/?>"
    r"|/[A-Za-z][A-Za-z0-9-]*\s*>|!--|\?|![A-Za-z]|!\[CDATA\[|[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>)")


def md_safe(text: str) -> str:
    """``text`` for a Markdown file, faithful: only a "<" that would open raw HTML (or an autolink)
    becomes "&lt;". LaTeX, Markdown punctuation and every other character are left as they are."""
    return _RAW_HTML.sub("&lt;", text) if "<" in text else text


def paper_markdown(p: Paper, base_url: str) -> str:
    """A paper as Markdown, its text faithful: title, authors and abstract are written as stored, so
    LaTeX such as ``$(k,\\ell)$`` reaches the reader untouched (escaping Markdown would corrupt
    it); only what a Markdown renderer would take for HTML is neutralised (``md_safe``). Served as
    text/markdown, never rendered to HTML by papersift."""
    lines = [f"# {md_safe(p.title)}", ""]
    if p.authors:
        lines += [f"**Authors:** {md_safe(', '.join(p.authors))}", ""]
    meta = [f"**Published:** {published_iso(p) or 'date unknown'}"]
    added = added_date(p)
    if added:
        meta.append(f"**Added:** {added.isoformat()}")
    if p.submitted_on_daily_at:
        meta.append(f"**Daily date:** {p.submitted_on_daily_at.date().isoformat()}")
    if p.submitted_by:
        meta.append(f"**Submitted by:** {md_safe(p.submitted_by)}")
    if p.arxiv_id:
        meta.append(f"**arXiv:** {p.arxiv_id}" + (f"v{p.version}" if p.version else ""))
    if p.doi:
        meta.append(f"**DOI:** {md_safe(p.doi)}")
    if p.categories:
        meta.append(f"**Categories:** {md_safe(' '.join(p.categories))}")
    org = getattr(p, "organization", None)
    if org:
        meta.append(f"**Organization:** {md_safe(org)}")
    meta.append(f"**Upvotes:** {total_upvotes(p)}")
    comments = getattr(p, "num_comments", None)
    if comments is not None:
        meta.append(f"**Comments:** {comments}")
    stars = getattr(p, "github_stars", None)
    if code_url(p) and stars is not None:
        meta.append(f"**GitHub stars:** {stars}")
    lines += ["  \n".join(meta), ""]
    summary = getattr(p, "ai_summary", None)
    if summary:
        lines += ["## AI summary", "", md_safe(summary), ""]
    keywords = getattr(p, "ai_keywords", None) or []
    if keywords:
        lines += [f"**Keywords:** {md_safe(', '.join(keywords))}", ""]
    if p.abstract:
        lines += ["## Abstract", "", md_safe(p.abstract), ""]
    links = paper_links(p)
    if links:
        lines += ["## Links", ""]
        lines += [f"- {label}: {autolink(url)}" for label, url in links]
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
