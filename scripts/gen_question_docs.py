"""Writes docs/reference/questions.md from copier.yml, so the reference cannot drift.

Run `python scripts/gen_question_docs.py` after changing a question; a test fails otherwise.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "reference" / "questions.md"


def _rule(validator: str) -> str:
    """The validator's first error message, without the echo of the bad value."""
    messages = [m.strip() for m in re.findall(r"%}([^{}]*?(?:{{[^}]*}}[^{}]*?)*){%", validator) if m.strip()]
    text = re.sub(r",? ?(got|valid:) .*$", "", messages[0]) if messages else "validated"
    return re.sub(r"{{.*?}}", "…", text).replace("|", "&#124;")


def render() -> str:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    lines = [
        "# Questions",
        "",
        "Generated from `copier.yml` by `scripts/gen_question_docs.py`; do not edit by hand.",
        "Answer them at the prompt, or all at once with `--data name=value` / `--data-file answers.yml`",
        "(see `examples/`). A bad answer is refused with a message naming the question.",
        "",
        "| Question | Type | Default | Accepted values | Help |",
        "|---|---|---|---|---|",
    ]
    for name, spec in questions.items():
        if name.startswith("_") or spec.get("when") is False:
            continue
        choices = spec.get("choices")
        if isinstance(choices, str):  # "{{ name | tojson }}": a hidden list defined above
            choices = questions[re.search(r"{{\s*(\w+)", choices).group(1)]["default"]
            choices = [c[1] if isinstance(c, list) else c for c in choices]  # [label, value] pairs
        if isinstance(choices, dict):
            accepted = ", ".join(f"`{v}`" for v in choices.values())
        elif isinstance(choices, list):
            accepted = (
                f"{len(choices)} choices: "
                + ", ".join(f"`{v}`" for v in choices[:6])
                + (", …" if len(choices) > 6 else "")
            )
        else:
            accepted = _rule(spec["validator"]) if "validator" in spec else "any"
        default = spec.get("default", "")
        if isinstance(default, str) and "{{" in default:
            default = "derived from the answers above"
        else:
            default = f"`{default}`" if default != "" else "(empty)"
        lines.append(
            f"| `{name}` | {spec.get('type', 'str')} | {default.replace('|', '&#124;')} | {accepted} | {spec.get('help', '')} |"
        )
    lines += [
        "",
        "`entsoe_area` accepts every name in entsoe-py's `Area` that publishes the chosen feed: day-ahead",
        "prices per bidding zone, the other feeds per bidding zone, control area or country. The prompt",
        "lists them by readable name (regenerate with `scripts/sync_areas.py`);",
        "`aws_region` accepts the AWS commercial regions listed once, in `copier.yml`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(render())
