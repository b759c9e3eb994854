"""Render a page or, for an htmx request aimed at one of its fragments, just that fragment.

Pages extend ``layouts/base.html``; the base layout renders only the content block when
``is_fragment_request`` is true (htmx navigations). Every answer varies on HX-Request.

Templates' filters (registered in ``portal/app.py``): ``label`` turns a stored value into what
people read (:mod:`reviewer.labels`), ``local_time`` an instant into the organization's time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.response import Redirect, Response, Template

from portal.accounts.current_user import CurrentUser
from portal.i18n import gettext
from portal.requests import AnyRequest
from reviewer.clock import as_utc, zone
from reviewer.documents.pdf import format_moment
from reviewer.labels import label

__all__ = ["FILTERS", "flash", "page", "redirect"]


def _csrf(request: AnyRequest) -> str:
    """The token bound to the session as it is now (a sign-in or a timeout in this request
    changes it); litestar's ``csrf_token()``/``csrf_input`` read the same value."""
    from litestar.utils.scope.state import ScopeState

    from portal.accounts.csrf import current_token

    if "litestar_app" not in request.scope:
        return ""
    token = current_token(request.scope)
    ScopeState.from_scope(request.scope).csrf_token = token
    return token


def page(
    request: AnyRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    fragments: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """``fragments`` maps an element id (the request's HX-Target) to a fragment template."""
    user = request.scope.get("user")
    is_htmx = request.headers.get("hx-request") == "true"
    target = request.headers.get("hx-target", "")
    if is_htmx and fragments and target in fragments:
        template = fragments[target]
    ctx: dict[str, Any] = {
        "current_user": user if isinstance(user, CurrentUser) else None,
        "csrf_token": _csrf(request),
        # An htmx navigation that swaps the page's <main id="main"> gets the content only.
        "is_fragment_request": is_htmx and target == "main",
        "flashes": request.session.pop("_flashes", []) if "session" in request.scope else [],
        **(context or {}),
    }
    return Template(
        template_name=template, context=ctx, status_code=status_code, headers={"Vary": "HX-Request"}
    )


def flash(request: AnyRequest, message: str, category: str = "info") -> None:
    flashes = list(request.session.get("_flashes", []))
    flashes.append((category, message))
    request.session["_flashes"] = flashes


def redirect(
    request: AnyRequest, path: str, *, success: str | None = None
) -> Response[Any]:
    """A 303 for plain browsers; HX-Location for htmx so it navigates without a full reload.
    ``success``: a message flashed first (category ``success``), what a step that went
    through says on the page it goes to."""
    if success is not None:
        flash(request, success, "success")
    if request.headers.get("hx-request") == "true":
        return Response(content=None, status_code=200, headers={"HX-Location": path})
    return Redirect(path=path, status_code=303)


@pass_context
def local_time(
    context: Context, moment: dt.datetime | str | None, time_zone: str = "", fmt: str = ""
) -> str:
    """``moment`` (an aware instant, or the ISO text a JSON column keeps) in ``time_zone``,
    else the page's ``tz`` (the case's organization), else the signed-in user's organization,
    with the zone's abbreviation: ``2026-11-21 09:30 PST`` (``fmt``: another strftime format
    before the abbreviation). ``None`` gives ``"—"``."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    user = context.get("current_user")
    org = user.current_org if isinstance(user, CurrentUser) else None
    name = time_zone or context.get("tz") or (org.time_zone if org else "")
    if not fmt:
        return format_moment(moment, name)
    local = as_utc(moment).astimezone(zone(name))
    return f"{local.strftime(fmt)} {local.tzname() or name}"


def translated_label(value: object, group: str) -> str:
    """:func:`reviewer.labels.label` in the request's language, where the catalog has it."""
    return gettext(label(value, group))


FILTERS: dict[str, Any] = {"label": translated_label, "local_time": local_time}
"""Filter name → function, for the template engine."""
