"""Put `parts/readme-speed.md` in the README's Speed section and fill its quotes: run once
`results/sweep-quick-cpu` holds `speed-cpu.json` (remade at the run folders' commit); then
remove both files of this part."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.report import quotes

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    if not (ROOT / "results" / "sweep-quick-cpu" / "speed-cpu.json").is_file():
        print("apply-speed: results/sweep-quick-cpu has no speed-cpu.json yet", file=sys.stderr)
        return 2
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("- **Measured** by `python -m pytest benchmarks/`")
    end = text.index("\n## Results")
    new = (ROOT / "parts" / "readme-speed.md").read_text(encoding="utf-8")
    new = new[new.index("-->") + 4 :]  # without the part's own comment
    text = quotes.fill(text[:start] + new + text[end:], ROOT)
    readme.write_text(text, encoding="utf-8")
    print("apply-speed: README's Speed section replaced and its quotes filled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
