#!/usr/bin/env bash
# One nightly chaos job: run a suite for longer with a fresh seed, then compare it with the last
# good run of that suite. The workflow (nightly-chaos.yml) calls this; run it locally the same
# way:   DURATION=60 examples/ci/nightly.sh suites/redis [BASELINE_DIR]
#
# The suite's own failures do not fail the job (a claim may be refuted as expected, or an
# inconclusive case skip): only a regression against the baseline does, through `sdconform
# compare --baseline` (exit 1). Writes reports/<name>/ (HTML report, verdicts, junit.xml) and
# appends the comparison as Markdown to $GITHUB_STEP_SUMMARY (stdout when unset).
set -uo pipefail
suite=${1:?usage: nightly.sh SUITE_DIR [BASELINE_DIR]}
baseline=${2:-}
name=$(basename "$suite")
duration=${DURATION:-60}
seed=${SEED:-$(( (RANDOM << 15) | RANDOM ))}
python=${PYTHON:-.venv/bin/python}
report="reports/$name"
summary=${GITHUB_STEP_SUMMARY:-/dev/stdout}

echo "nightly: $suite, ${duration}s per case, seed $seed (repeat with SEED=$seed)"
"$python" -m pytest -q --sdconform "$suite" --sdconform-duration "$duration" \
  --sdconform-seed "$seed" --sdconform-report "$report" --junitxml "$report/junit.xml"
echo "nightly: pytest exited $? (not what decides the job; regressions do)"
"$python" -m pytest_sdconform.cli cleanup || true

args=()
if [ -n "$baseline" ] && [ -f "$baseline/verdicts.json" ]; then
  args=(--baseline "$baseline")
else
  echo "nightly: no baseline yet: nothing to compare with, nothing can regress"
fi
{ echo "### $name (seed $seed)"; echo; } >> "$summary"
"$python" -m pytest_sdconform.cli compare "$report" "${args[@]}" --markdown >> "$summary"
status=$?
if [ "$status" -eq 1 ]; then
  echo "nightly: regressions against $baseline (see the summary)" >&2
elif [ "$status" -ne 0 ]; then
  echo "nightly: compare failed ($status)" >&2
fi
exit "$status"
