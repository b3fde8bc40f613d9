"""The GraphQL operations the contacts benchmark sends, and the request bodies built from them.

Every operation is named: the floor endpoint (bench/floor.py) receives the very same bodies and
dispatches on `operationName`.
"""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.ids import encode_id

# The filter and sort of scenario (b): both fields are indexed (see bench/dataset.py).
FILTER_KEY = "segment"
FILTER_VALUE = "enterprise"
SORT_KEY = "revenue"

CONTACT_SELECTION = """
      id name orgNumber email phone website createdAt updatedAt deletedAt
      address { street postalCode city region country }
      values
      persons { id firstName lastName title email phone mobile fullName }
"""

PAGE = f"""query Page($categoryId: ID!, $first: Int!) {{
  contacts(categoryId: $categoryId, first: $first) {{
    edges {{ cursor node {{ {CONTACT_SELECTION} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""

FILTERED_PAGE = f"""query FilteredPage($categoryId: ID!, $first: Int!, $segment: JSON!) {{
  contacts(
    categoryId: $categoryId
    first: $first
    filter: {{ fields: [{{ key: "{FILTER_KEY}", eq: $segment }}] }}
    orderBy: [{{ key: "{SORT_KEY}", direction: DESC }}]
  ) {{
    edges {{ cursor node {{ {CONTACT_SELECTION} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""

CARD = f"""query Card($id: ID!) {{
  contact(id: $id) {{ {CONTACT_SELECTION} }}
}}"""

PAGE_SIZE = 50
CARD_SAMPLE = 1000  # scenario (c) cycles through this many different cards


def body(query: str, operation: str, variables: dict[str, Any]) -> str:
    """One request body, as compact JSON on one line (wrk's Lua script reads one per line)."""
    return json.dumps(
        {"query": query, "operationName": operation, "variables": variables},
        separators=(",", ":"),
    )


def page_body(category_id: int, first: int = PAGE_SIZE) -> str:
    variables = {"categoryId": encode_id("Category", category_id), "first": first}
    return body(PAGE, "Page", variables)


def filtered_body(category_id: int, first: int = PAGE_SIZE) -> str:
    variables = {
        "categoryId": encode_id("Category", category_id),
        "first": first,
        "segment": FILTER_VALUE,
    }
    return body(FILTERED_PAGE, "FilteredPage", variables)


def card_body(contact_id: int) -> str:
    return body(CARD, "Card", {"id": encode_id("Contact", contact_id)})


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    bodies: list[str]  # cycled through by the load generator
    min_rps: float | None = None  # the target from the issue, if any

    @property
    def label(self) -> str:
        return f"({self.key}) {self.title}"


def scenarios(category_id: int, card_ids: Sequence[int], *, seed: int = 7) -> list[Scenario]:
    rng = random.Random(seed)
    sample = rng.sample(list(card_ids), min(CARD_SAMPLE, len(card_ids)))
    return [
        Scenario(
            "a", f"page of {PAGE_SIZE}, values + persons", [page_body(category_id)], min_rps=150
        ),
        Scenario(
            "b",
            f"(a) + {FILTER_KEY}={FILTER_VALUE}, {SORT_KEY} DESC",
            [filtered_body(category_id)],
        ),
        Scenario("c", "card by id, values + persons", [card_body(i) for i in sample], min_rps=800),
    ]
