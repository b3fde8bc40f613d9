"""Small helpers for messages people read."""


def a_or_an(name: str, *, sentence_start: bool = False) -> str:
    """`name` after the indefinite article it takes when read aloud: "an INTEGER", "an EMAIL",
    "a TEXT". A leading U is read "you" in every type name here (URL, USER, User), so it
    takes "a"."""
    article = "an" if name[:1].upper() in ("A", "E", "I", "O") else "a"
    return f"{article.capitalize() if sentence_start else article} {name}"


def api_name(name: str) -> str:
    """A Python name as the API spells it: "org_number" -> "orgNumber"."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
