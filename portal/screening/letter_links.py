"""Results letters by email: the staff action that mails each guardian a link, and the public
page the link opens (the letter PDF of one child). Thin: ``reviewer.screening.letter_links``
does the work."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath

from portal.accounts.guards import require_roles
from portal.i18n import translations
from portal.rendering import flash, redirect
from portal.requests import ActorDep, AnyRequest, AuditDep, DbDep, Form
from reviewer.screening.letter_links import email_letters, open_letter
from reviewer.screening.letters import LETTER_PRINTERS

letter_printers = require_roles(*LETTER_PRINTERS)

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Link not valid / Enlace no válido</title></head><body>
<h1>This link is not valid</h1>
<p>The link has expired or is not right. Ask the school dental program for a new one.</p>
<h1 lang="es">Este enlace no es válido</h1>
<p lang="es">El enlace ha vencido o no es correcto. Pida uno nuevo al programa dental de la
escuela.</p>
</body></html>
"""
"""The same plain page, in both languages, for every refused token (unknown, expired,
revoked): the guardian may read either language and nothing tells a guesser which it was."""
PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                  "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class LetterEmailController(Controller):
    path = "/screening"
    include_in_schema = False

    @post("/events/{event_id:uuid}/letters/email", guards=[letter_printers], status_code=303,
          opt={"back": "/screening/events/{event_id}"})
    async def email(
        self, request: AnyRequest, db_session: DbDep, who: ActorDep, audit: AuditDep,
        event_id: FromPath[uuid.UUID], data: Form,
    ) -> Response[Any]:
        """Email letters to guardians: one link per screened child with a guardian email;
        a second press mails nobody again unless ``resend`` is ticked."""
        outcome = await email_letters(
            db_session, who, audit, event_id, request.app.state.settings.session
            .secret_key.encode(), resend=str(data.get("resend") or "") in {"1", "on", "yes"},
        )
        message = (f"Letters emailed: {outcome.sent}. Already emailed: {outcome.already_sent}."
                   f" Without a guardian email: {len(outcome.print_these)}.")
        if outcome.print_these:
            message += " Print these: " + ", ".join(outcome.print_these) + "."
        flash(request, message, "success")
        return redirect(request, f"/screening/events/{event_id}")


class LetterLinkController(Controller):
    path = "/letters"
    include_in_schema = False

    @get("/{token:str}", opt={"public": True})
    async def letter(
        self, request: AnyRequest, db_session: DbDep, audit: AuditDep, token: FromPath[str],
    ) -> Response[Any]:
        """Public: the link is the credential (expiring, revocable); the letter inline."""
        pdf = await open_letter(
            db_session, audit, token[:200], translations,
            find_dentist=request.app.state.settings.screening_dentist_line,
        )
        if pdf is None:
            return Response(NOT_FOUND_PAGE, status_code=404, media_type="text/html",
                            headers=PUBLIC_HEADERS)
        return Response(pdf, media_type="application/pdf", headers={
            **PUBLIC_HEADERS,
            "Content-Disposition": 'inline; filename="screening-letter.pdf"',
        })


PAGE_CONTROLLERS: list[type] = [LetterEmailController, LetterLinkController]
