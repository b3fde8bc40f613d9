"""What each mail says, as plain text and as HTML.

Every string that people typed (names, titles, card names, descriptions, addresses) is escaped
in the HTML body; the text body carries it as it is. There is no web app yet, so links lead to
the API's explorer at `{CRM_PUBLIC_URL}/graphql` and name the ID to ask for there.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

# The longest description quoted in a to-do mail; the rest is in the CRM.
MAX_QUOTED_DESCRIPTION = 1000
MAX_SUBJECT_LENGTH = 300  # outbound_mail.subject


@dataclass(frozen=True)
class MailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestLine:
    """One to-do in a digest."""

    title: str
    card_name: str | None  # its card's, or its project room's for a room's own to-do
    due: str  # as format_due wrote it
    priority: str


def format_day(day: date) -> str:
    """'Friday 5 June 2026' (English names, whatever the machine's locale)."""
    weekday = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    month = (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    )
    return f"{weekday[day.weekday()]} {day.day} {month[day.month - 1]} {day.year}"


def format_due(due_at: datetime | None, due_date: date | None, time_zone: str) -> str:
    """A to-do's due date as people of the organisation read it: a date as it is (a date of
    CRM_TIME_ZONE), a moment in CRM_TIME_ZONE with the zone named."""
    if due_date is not None:
        return format_day(due_date)
    if due_at is not None:
        local = due_at.astimezone(ZoneInfo(time_zone))
        return f"{format_day(local.date())}, {local:%H:%M} ({time_zone})"
    return "no due date"


def one_line(value: str, limit: int = MAX_SUBJECT_LENGTH) -> str:
    """A subject: one line (headers cannot hold line breaks), at most `limit` characters."""
    line = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _html(title: str, *paragraphs: str) -> str:
    body = "\n".join(paragraphs)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        '<body style="font-family: sans-serif; line-height: 1.4">\n'
        f"{body}\n</body></html>\n"
    )


def _string(value: str) -> str:
    """A GraphQL string literal (JSON's escapes are GraphQL's)."""
    return json.dumps(value, ensure_ascii=False)


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url, quote=True)}">{escape(text)}</a>'


def _code(value: str) -> str:
    return f"<code>{escape(value)}</code>"


def _footer_text(public_url: str) -> str:
    return f"\n-- \nSent by the CRM at {public_url}\n"


def _footer_html(public_url: str) -> str:
    return f'<p style="color: #666">Sent by the CRM at {_link(public_url, public_url)}</p>'


def invitation(
    *, public_url: str, email: str, role: str, invited_by: str, token: str, expires: str
) -> MailContent:
    subject = one_line(f"{invited_by} invited you to the CRM")
    sign_up = (
        f'mutation {{ signUp(input: {{email: {_string(email)}, password: "…", name: "…", '
        f"invitationToken: {_string(token)}}}) {{ token userErrors {{ message }} }} }}"
    )
    text = (
        f"Hello,\n\n{invited_by} invited you to the CRM at {public_url} (role: {role}).\n\n"
        f"Your invitation token:\n\n    {token}\n\n"
        f"To join, open {public_url}/graphql and sign up with this e-mail address "
        f"({email}), a password of your choice and your name, passing the token as "
        f"invitationToken:\n\n    {sign_up}\n\n"
        f"The invitation works once and expires on {expires}. If you did not expect it, "
        "ignore this mail." + _footer_text(public_url)
    )
    html = _html(
        subject,
        "<p>Hello,</p>",
        f"<p>{escape(invited_by)} invited you to the CRM at {_link(public_url, public_url)} "
        f"(role: {escape(role)}).</p>",
        f"<p>Your invitation token:</p><p>{_code(token)}</p>",
        f"<p>To join, {_link(public_url + '/graphql', 'open the CRM')} and sign up with this "
        f"e-mail address ({escape(email)}), a password of your choice and your name, passing "
        f"the token as <code>invitationToken</code>:</p><pre>{escape(sign_up)}</pre>",
        f"<p>The invitation works once and expires on {escape(expires)}. If you did not "
        "expect it, ignore this mail.</p>",
        _footer_html(public_url),
    )
    return MailContent(subject, text, html)


def password_reset(*, public_url: str, name: str, token: str, expires: str) -> MailContent:
    subject = "Set a new password for the CRM"
    reset = (
        f'mutation {{ passwordReset(input: {{token: {_string(token)}, newPassword: "…"}}) '
        "{ token userErrors { message } } }"
    )
    text = (
        f"Hello {name},\n\nan admin of the CRM at {public_url} lets you set a new password.\n\n"
        f"Your reset token:\n\n    {token}\n\n"
        f"Open {public_url}/graphql and set your new password with passwordReset:\n\n"
        f"    {reset}\n\n"
        f"The token works once and expires on {expires}. Setting the password signs you out "
        "everywhere else. If you did not ask for it, tell an admin." + _footer_text(public_url)
    )
    html = _html(
        subject,
        f"<p>Hello {escape(name)},</p>",
        f"<p>an admin of the CRM at {_link(public_url, public_url)} lets you set a new "
        "password.</p>",
        f"<p>Your reset token:</p><p>{_code(token)}</p>",
        f"<p>{_link(public_url + '/graphql', 'Open the CRM')} and set your new password with "
        f"<code>passwordReset</code>:</p><pre>{escape(reset)}</pre>",
        f"<p>The token works once and expires on {escape(expires)}. Setting the password signs "
        "you out everywhere else. If you did not ask for it, tell an admin.</p>",
        _footer_html(public_url),
    )
    return MailContent(subject, text, html)


def todo_assigned(
    *,
    public_url: str,
    assignee: str,
    assigned_by: str,
    title: str,
    description: str | None,
    card_name: str | None,
    subject_id: str,
    due: str,
    priority: str,
    room_name: str | None = None,
) -> MailContent:
    """`subject_id` is the card's global ID (the to-do's when it belongs to no card, but to
    the project room `room_name`)."""
    subject = one_line(f"To-do for you: {title}")
    where = f" on the card {card_name}" if card_name is not None else ""
    if room_name is not None:
        where = f" in the room {room_name}"
    what = "the card" if card_name is not None else "the to-do"
    explorer = f"{public_url}/graphql"
    quoted = _quoted(description)
    text = (
        f"Hello {assignee},\n\n{assigned_by} assigned a to-do to you{where}:\n\n"
        f"    {title}\n    Due: {due}\n    Priority: {priority.capitalize()}\n"
        + (f"\n{quoted}\n" if quoted else "")
        + f"\nOpen it in the CRM: {explorer} ({what}'s ID: {subject_id})\n"
        + _footer_text(public_url)
    )
    html = _html(
        subject,
        f"<p>Hello {escape(assignee)},</p>",
        f"<p>{escape(assigned_by)} assigned a to-do to you"
        + (f" on the card <b>{escape(card_name)}</b>" if card_name is not None else "")
        + (f" in the room <b>{escape(room_name)}</b>" if room_name is not None else "")
        + ":</p>",
        f"<p><b>{escape(title)}</b><br>Due: {escape(due)}<br>"
        f"Priority: {escape(priority.capitalize())}</p>",
        f'<p style="white-space: pre-wrap">{escape(quoted)}</p>' if quoted else "",
        f"<p>{_link(explorer, 'Open it in the CRM')} ({what}'s ID: {_code(subject_id)})</p>",
        _footer_html(public_url),
    )
    return MailContent(subject, text, html)


def _quoted(description: str | None) -> str:
    if not description or not description.strip():
        return ""
    text = description.strip()
    if len(text) > MAX_QUOTED_DESCRIPTION:
        text = text[:MAX_QUOTED_DESCRIPTION] + "…"
    return text


def digest(
    *,
    public_url: str,
    name: str,
    day: date,
    overdue: Sequence[DigestLine],
    today: Sequence[DigestLine],
) -> MailContent:
    """The morning's list: overdue to-dos first, then those due today."""
    counts = []
    if overdue:
        counts.append(f"{len(overdue)} overdue")
    if today:
        counts.append(f"{len(today)} due today")
    subject = one_line(f"Your to-dos for {format_day(day)}: {', '.join(counts)}")
    sections = [("Overdue", overdue), ("Due today", today)]
    text = f"Hello {name},\n\nthese open to-dos are yours:\n"
    html_parts = [f"<p>Hello {escape(name)},</p>", "<p>these open to-dos are yours:</p>"]
    for heading, lines in sections:
        if not lines:
            continue
        text += f"\n{heading}:\n" + "".join(f"  - {_digest_text(line)}\n" for line in lines)
        items = "".join(f"<li>{_digest_html(line)}</li>" for line in lines)
        html_parts.append(f"<h3>{heading}</h3><ul>{items}</ul>")
    explorer = f"{public_url}/graphql"
    text += f"\nOpen them in the CRM: {explorer}\n" + _footer_text(public_url)
    html_parts += [f"<p>{_link(explorer, 'Open them in the CRM')}</p>", _footer_html(public_url)]
    return MailContent(subject, text, _html(subject, *html_parts))


def _digest_text(line: DigestLine) -> str:
    card = f" ({line.card_name})" if line.card_name is not None else ""
    return f"{line.title}{card}, due {line.due}, priority {line.priority.capitalize()}"


def _digest_html(line: DigestLine) -> str:
    card = f" ({escape(line.card_name)})" if line.card_name is not None else ""
    return (
        f"<b>{escape(line.title)}</b>{card}, due {escape(line.due)}, "
        f"priority {escape(line.priority.capitalize())}"
    )
