"""Export the project-config JSON Schema (``make schemas``) so editors complete config/<project>.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from trainops.config import json_schema

TARGET = Path(__file__).resolve().parents[2] / "schemas" / "project-config.schema.json"


def main() -> None:
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
