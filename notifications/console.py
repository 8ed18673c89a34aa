"""The console's overdue follow-up: a manager reminds a task's clerks or escalates it in one click."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext

from backend import db
from backend.auth.policy import HQ, SUPERVISOR, allow_signed_in, current_user
from backend.console import forms, messages
from backend.console.web import console_blueprint, error_sentence, safe_next
from backend.errors import Conflict
from notifications import nudges

bp = console_blueprint("console_notify", __name__)


@bp.post("/tasks/<int:task_id>/<any(remind, escalate):nudge>")
@allow_signed_in(HQ, SUPERVISOR)
def nudge_task(task_id, nudge):
    """Remind the clerks of an overdue task, or escalate it to the region's supervisors and HQ."""
    try:
        result = nudges.nudge_overdue(session=db.session(), actor=current_user(), task_id=task_id,
                                      nudge=nudge)
    except Conflict as exc:
        details = forms.flatten_errors(messages.translate_nested(exc.errors)) if exc.errors else {}
        flash(" ".join([error_sentence(exc.error, exc.message)] + list(details.values())), "error")
    else:
        names = ", ".join(result["recipients"])
        if not result["notified"]:
            flash(gettext("Already sent within this hour; nothing new was sent."), "info")
        elif nudge == "remind":
            flash(gettext("Reminder sent to %(names)s.", names=names), "success")
        else:
            flash(gettext("Escalated to %(names)s.", names=names), "success")
    return redirect(safe_next(request.form.get("next"),
                              url_for("console.task_detail", task_id=task_id)))
