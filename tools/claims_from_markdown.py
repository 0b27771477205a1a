"""Convert the claims survey (claims.md) into the package's catalogue (catalogue.toml).

The survey is written for people; the catalogue is what the harness reads. Keep them in step by
regenerating, never by editing the TOML by hand:

    python tools/claims_from_markdown.py            # tools/claims.md -> the package catalogue
    python tools/claims_from_markdown.py --check    # exit 1 if the committed catalogue is stale

Each ``#### `id` — title`` block of sections 1-16 becomes one [[claim]] table, in file order; the
section number gives the system. ``expected`` is "refuted" for claims flagged wrong or outdated,
and for claims flagged as a contradiction whose Pass/fail text says the claim is false; "upheld"
otherwise; ``expected_note`` carries the Pass/fail text when that text makes the
outcome depend on configuration, else (for vague claims) the flag's reason.

The converter also cross-checks what it parsed against the survey's own totals, contents,
flagged-claims index, summary table, property counts and seed citations, and prints any
disagreement to stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tools" / "claims.md"
CATALOGUE = ROOT / "pytest_sdconform" / "claims" / "catalogue.toml"

# Section number -> (system slug, how the section heading starts). The heading check catches a
# renumbered survey before it silently files claims under the wrong system.
SYSTEMS: dict[int, tuple[str, str]] = {
    1: ("generic", "Generic models"),
    2: ("postgres", "PostgreSQL"),
    3: ("mongodb", "MongoDB"),
    4: ("cassandra", "Cassandra"),
    5: ("dynamodb", "Amazon DynamoDB"),
    6: ("redis", "Redis"),
    7: ("caching", "Caching strategies"),
    8: ("kafka", "Apache Kafka"),
    9: ("kinesis", "Amazon Kinesis"),
    10: ("sqs", "Amazon SQS"),
    11: ("sns", "Amazon SNS"),
    12: ("stepfunctions", "AWS Step Functions"),
    13: ("s3", "Amazon S3"),
    14: ("loadbalancer", "Load balancers"),
    15: ("protocols", "Protocol-level claims"),
    16: ("out-of-scope", "Out of scope"),
}
FLAGS = {
    "✗ WRONG": "wrong",
    "⚠ OUTDATED": "outdated",
    "⇄ CONTRADICTION": "contradiction",
    "~ VAGUE": "vague",
}
REFUTING_FLAGS = {"wrong", "outdated"}
# A claim flagged as contradicting another seed line is refuted when the survey's own Pass/fail
# text says the claim is the false side ("Claim false for GSIs."); otherwise the contradiction
# may be the other line's fault, and the flag alone decides nothing.
CLAIM_FALSE = re.compile(r"\bclaim (?:is )?false\b", re.IGNORECASE)

SECTION = re.compile(r"^## (\d+)\. (.*)$")
HEADING = re.compile(r"^#### `([^`]+)` — (.+)$")
SYSTEM_LINE = re.compile(
    r"^- \*\*System \(seed naming\):\*\* (.+?) → \*\*stand-in:\*\* (.+?) · \*\*Tier:\*\* (T[123])$"
)
QUOTE = re.compile(r'^(?:- \*\*Quote:\*\*|  - also:) "(.*)" — `([^`]+)` L(\d+)$')
FIELD = re.compile(r"^- \*\*(Class|Test|Pass/fail|Knobs):\*\* (.*)$")
FLAG_LINE = re.compile(r"^- \*\*Flag — (.+?):\*\* (.*)$")
STRUCTURED_TEST = re.compile(r"^\*workload\* — (.*) \*fault\* — (.*) \*checker\* — (.*)$")

# A Pass/fail text "depends on configuration" when it names a condition (unless, only with, iff,
# with X=..., without sessions...) or sets outcomes side by side ("w:majority: ... w:1: ...").
# The note this produces is a hint for whoever writes the suite, so erring towards one is cheap.
CONDITION = re.compile(
    r"\bunless\b|\biff\b|\bdepends? on\b|\bonly (?:if|with|when|while|across)\b|\brequires\b"
    r"|\bpass(?:es)? (?:for|with|when|iff)\b|\bholds (?:for|while|only)\b|\btrue only\b"
    r"|\bclaim (?:false|fails) (?:for|unless|without)\b|\b\w+ (?:configs|settings)\b|\bconfigs?:"
    r"|\bif (?:ack|backends|client)\b"
    r"|\bwith(?:out)? (?:\S*[=_]|\S*sync|TTL|leases|atomic|causal|sessions|min\.|redis AOF"
    r"|breaker|fsync|failover slots|persistent|idempotent)",
    re.IGNORECASE,
)
OUTCOME_LABEL = re.compile(r"(?:^|[.;] )([^ ;][^;]{0,70}?): ")


@dataclass
class SurveyClaim:
    """One claim as the survey states it; the package's Claim is what the harness reads."""

    id: str
    title: str
    system: str
    line: int
    seed_system: str = ""
    stand_in: str = ""
    tier: str = ""
    sources: list[tuple[str, int, str]] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    workload: str = ""
    fault: str = ""
    checker: str = ""
    test_note: str = ""
    criterion: str = ""
    knobs: str = ""
    flags: list[str] = field(default_factory=list)
    flag_reason: str = ""

    @property
    def expected(self) -> str:
        if REFUTING_FLAGS & set(self.flags):
            return "refuted"
        if "contradiction" in self.flags and CLAIM_FALSE.search(self.criterion):
            return "refuted"
        return "upheld"

    @property
    def expected_note(self) -> str:
        """The condition under which the outcome changes, when the survey gives one."""
        if depends_on_configuration(self.criterion):
            return self.criterion
        if "vague" in self.flags:
            return self.flag_reason
        return ""


def depends_on_configuration(criterion: str) -> bool:
    labels = [label for label in OUTCOME_LABEL.findall(criterion) if label.upper() != "NOTE"]
    return bool(CONDITION.search(criterion)) or len(labels) >= 2


class SurveyError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"claims.md:{line}: {message}")


def parse_claims(text: str) -> list[SurveyClaim]:
    """Every `#### id — title` block of sections 1-16, in file order."""
    claims: list[SurveyClaim] = []
    system: str | None = None
    current: SurveyClaim | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if section := SECTION.match(line):
            current = None
            system = section_system(int(section[1]), section[2], number)
            if system is None:
                break
        elif heading := HEADING.match(line):
            if system is None:
                raise SurveyError(number, "claim before the first numbered section")
            current = SurveyClaim(id=heading[1], title=heading[2], system=system, line=number)
            claims.append(current)
        elif line.startswith("#### "):
            raise SurveyError(number, f"not a claim heading (#### `id` — title): {line[:60]!r}")
        elif current is not None and line.strip():
            parse_bullet(current, line, number)
    for claim in claims:
        missing = [name for name in ("tier", "sources", "properties") if not getattr(claim, name)]
        if missing:
            raise SurveyError(claim.line, f"claim {claim.id!r} has no {', '.join(missing)}")
    return claims


def section_system(number: int, heading: str, line: int) -> str | None:
    """The system slug for a claims section, or None once past the claims (indexes, tables)."""
    if number not in SYSTEMS:
        return None
    slug, starts = SYSTEMS[number]
    if not heading.startswith(starts):
        raise SurveyError(line, f"section {number} should start with {starts!r}: {heading!r}")
    return slug


def parse_bullet(claim: SurveyClaim, line: str, number: int) -> None:
    if m := SYSTEM_LINE.match(line):
        set_once(claim, "tier", m[3], number)
        claim.seed_system, claim.stand_in = m[1], m[2]
    elif m := QUOTE.match(line):
        if line.startswith("  - also:") and not claim.sources:
            raise SurveyError(number, f"{claim.id}: an 'also' quote before the primary quote")
        if line.startswith("- ") and claim.sources:
            raise SurveyError(number, f"{claim.id}: a second primary quote")
        claim.sources.append((m[2], int(m[3]), m[1]))
    elif m := FIELD.match(line):
        name, value = m[1], m[2]
        if name == "Class":
            set_once(claim, "properties", [p.strip() for p in value.split(",")], number)
        elif name == "Test":
            parse_test(claim, value, number)
        elif name == "Pass/fail":
            set_once(claim, "criterion", value, number)
        else:
            set_once(claim, "knobs", value, number)
    elif m := FLAG_LINE.match(line):
        if m[1] not in FLAGS:
            raise SurveyError(number, f"{claim.id}: unknown flag {m[1]!r}")
        set_once(claim, "flags", [FLAGS[m[1]]], number)
        claim.flag_reason = m[2]
    else:
        raise SurveyError(number, f"{claim.id}: unrecognised line {line[:60]!r}")


def parse_test(claim: SurveyClaim, value: str, number: int) -> None:
    if claim.workload or claim.test_note:
        raise SurveyError(number, f"{claim.id}: a second Test line")
    if m := STRUCTURED_TEST.match(value):
        claim.workload, claim.fault, claim.checker = m[1], m[2], m[3]
    else:
        claim.test_note = value  # "Documentation-only", "n/a", or a free-form remark


def set_once(claim: SurveyClaim, name: str, value: object, number: int) -> None:
    if getattr(claim, name):
        raise SurveyError(number, f"{claim.id}: a second {name} line")
    setattr(claim, name, value)


# --- TOML output (the stdlib reads TOML but does not write it) -------------------------------


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_strings(items: list[str]) -> str:
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def render(claims: list[SurveyClaim]) -> str:
    lines = [
        "# The claims catalogue: one [[claim]] per promise in the seed documents.",
        "# Generated by tools/claims_from_markdown.py from tools/claims.md; do not edit by hand.",
        "",
    ]
    for c in claims:
        sources = "".join(
            f"  {{ file = {toml_string(f)}, line = {n}, quote = {toml_string(q)} }},\n"
            for f, n, q in c.sources
        )
        lines += [
            "[[claim]]",
            f"id = {toml_string(c.id)}",
            f"title = {toml_string(c.title)}",
            f"system = {toml_string(c.system)}",
            f"seed_system = {toml_string(c.seed_system)}",
            f"stand_in = {toml_string(c.stand_in)}",
            f"tier = {toml_string(c.tier)}",
            f"sources = [\n{sources}]",
            f"properties = {toml_strings(c.properties)}",
            f"workload = {toml_string(c.workload)}",
            f"fault = {toml_string(c.fault)}",
            f"checker = {toml_string(c.checker)}",
            f"test_note = {toml_string(c.test_note)}",
            f"criterion = {toml_string(c.criterion)}",
            f"knobs = {toml_string(c.knobs)}",
            f"flags = {toml_strings(c.flags)}",
            f"flag_reason = {toml_string(c.flag_reason)}",
            f"expected = {toml_string(c.expected)}",
            f"expected_note = {toml_string(c.expected_note)}",
            "",
        ]
    return "\n".join(lines)


def convert(text: str) -> str:
    return render(parse_claims(text))


# --- Cross-checks against the survey's own bookkeeping ---------------------------------------


def cross_check(text: str, claims: list[SurveyClaim]) -> list[str]:
    """Disagreements between the parsed claims and the survey's totals, contents and indexes."""
    ids = Counter(c.id for c in claims)
    return [
        *(f"id {i!r} appears {n} times" for i, n in ids.items() if n > 1),
        *check_totals(text, claims),
        *check_contents(text, claims),
        *check_flag_index(text, claims),
        *check_summary_table(text, claims),
        *check_property_counts(text, claims),
        *check_seed_citations(text, claims),
    ]


def check_totals(text: str, claims: list[SurveyClaim]) -> list[str]:
    m = re.search(
        r"\*\*Totals:\*\* (\d+) claims \((\d+) .*?\[T1\], (\d+) .*?\[T2\], (\d+) .*?\[T3\]\)\. "
        r"Flags: (\d+) wrong\S*, (\d+) outdated, (\d+) internal contradictions, (\d+) vague",
        text,
    )
    if not m:
        return ["no **Totals:** line found"]
    names = ["claims", "T1", "T2", "T3", "wrong", "outdated", "contradiction", "vague"]
    stated = dict(zip(names, map(int, m.groups()), strict=True))
    parsed = Counter(c.tier for c in claims) + Counter(f for c in claims for f in c.flags)
    parsed["claims"] = len(claims)
    return [
        f"totals line says {n} {k}, parsed {parsed[k]}" for k, n in stated.items() if parsed[k] != n
    ]


def check_contents(text: str, claims: list[SurveyClaim]) -> list[str]:
    per_system = Counter(c.system for c in claims)
    problems = []
    for m in re.finditer(r"^(\d+)\. .*\((\d+) claims\)$", text, re.MULTILINE):
        slug = SYSTEMS[int(m[1])][0]
        if per_system[slug] != int(m[2]):
            problems.append(f"contents says {m[2]} claims in {slug}, parsed {per_system[slug]}")
    return problems


def check_flag_index(text: str, claims: list[SurveyClaim]) -> list[str]:
    row = re.compile(r"^\| `([^`]+)` \| (\S+ \w+) \| (\d{3}:\d+) \| (.*) \|$", re.MULTILINE)
    index = {m[1]: (m[2], m[3], m[4]) for m in row.finditer(text)}
    by_id = {c.id: c for c in claims}
    problems = [
        f"{c.id} is flagged but not in the flag index"
        for c in claims
        if c.flags and c.id not in index
    ]
    for cid, (flag, where, why) in index.items():
        c = by_id.get(cid)
        if c is None:
            problems.append(f"flag index names {cid!r}, which is not a claim")
            continue
        file, line, _ = c.sources[0]
        if [FLAGS.get(flag)] != c.flags:
            problems.append(f"flag index says {cid} is {flag}, claim says {c.flags}")
        if where != f"{file[:3]}:{line}":
            problems.append(f"flag index cites {cid} at {where}, claim at {file[:3]}:{line}")
        if why != c.flag_reason:
            problems.append(f"flag index gives {cid} another reason than the claim")
    return problems


def check_summary_table(text: str, claims: list[SurveyClaim]) -> list[str]:
    """Rows of section 18 in section order: claims, T1/T2/T3, flagged."""
    rows = re.findall(r"^\| [^|]+ \| (\d+) \| (\d+)/(\d+)/(\d+) \| (\d+) \|", text, re.MULTILINE)
    slugs = [slug for slug, _ in SYSTEMS.values()]
    problems = []
    if len(rows) != len(slugs):
        problems.append(f"summary table has {len(rows)} system rows, expected {len(slugs)}")
    for slug, row in zip(slugs, rows, strict=False):
        mine = [c for c in claims if c.system == slug]
        t = Counter(c.tier for c in mine)
        parsed = (len(mine), t["T1"], t["T2"], t["T3"], sum(1 for c in mine if c.flags))
        if tuple(map(int, row)) != parsed:
            problems.append(
                f"summary row {slug}: says {'/'.join(row)}, parsed "
                f"{'/'.join(map(str, parsed))} (claims/T1/T2/T3/flagged)"
            )
    return problems


def check_property_counts(text: str, claims: list[SurveyClaim]) -> list[str]:
    m = re.search(r"^Claims per property class[^:]*: (.*?)\. No seed", text, re.MULTILINE)
    if not m:
        return ["no 'Claims per property class' line found"]
    stated = {k: int(n) for k, n in re.findall(r"(\S+) (\d+)(?:,|$)", m[1])}
    parsed = dict(Counter(p for c in claims for p in c.properties))
    return differences("claims with property", stated, parsed)


def check_seed_citations(text: str, claims: list[SurveyClaim]) -> list[str]:
    m = re.search(r"^Claims citing each seed[^:]*: (.*)$", text, re.MULTILINE)
    if not m:
        return ["no 'Claims citing each seed' line found"]
    stated = {f: (int(a), int(p)) for f, a, p in re.findall(r"`([^`]+)` (\d+) / (\d+)", m[1])}
    cited = Counter(f for c in claims for f in {s[0] for s in c.sources})
    primary = Counter(c.sources[0][0] for c in claims)
    parsed = {f: (cited[f], primary[f]) for f in cited}
    return differences("claims citing (any / primary)", stated, parsed)


def differences(what: str, stated: dict[str, Any], parsed: dict[str, Any]) -> list[str]:
    return [
        f"{what} {key}: survey says {stated.get(key)}, parsed {parsed.get(key)}"
        for key in sorted(stated.keys() | parsed.keys())
        if stated.get(key) != parsed.get(key)
    ]


def summary(claims: list[SurveyClaim]) -> str:
    def fmt(counter: Counter[str]) -> str:
        return ", ".join(f"{k} {n}" for k, n in counter.items())

    return "\n".join(
        [
            f"{len(claims)} claims",
            "per system: " + fmt(Counter(c.system for c in claims)),
            "per tier: " + fmt(Counter(sorted(c.tier for c in claims))),
            "per flag: " + fmt(Counter(f for c in claims for f in c.flags)),
            "expected: " + fmt(Counter(c.expected for c in claims)),
            "with expected_note: " + str(sum(1 for c in claims if c.expected_note)),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=SOURCE)
    parser.add_argument("-o", "--output", type=Path, default=CATALOGUE)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = args.source.read_text(encoding="utf-8")
    claims = parse_claims(text)
    for problem in cross_check(text, claims):
        print(f"warning: {problem}", file=sys.stderr)
    print(summary(claims), file=sys.stderr)
    catalogue = render(claims)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != catalogue:
            print(f"{args.output} is stale: rerun {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(catalogue, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
