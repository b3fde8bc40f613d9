"""Print the schema as SDL, or check that a checked-in schema.graphql is current.

python -m schema.export > schema.graphql
python -m schema.export --check schema.graphql
"""

import sys
from pathlib import Path

from schema import build_schema
from services.settings import Settings


def sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check":
        current = sdl()
        if Path(argv[1]).read_text() != current:
            print(f"{argv[1]} is stale: run `make schema` and commit it.", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(sdl())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
