#!/usr/bin/env bash
# Go on with folders of the publication plan at one fixed commit, for at most MINUTES, in a
# worktree of that commit, so that the records of a folder longer than a session all come from
# it while this checkout moves on.
#
#   parts/continue.sh COMMIT MINUTES FOLDER...
#
# Before: each FOLDER's records staged here (parts/publish/FOLDER/records.jsonl.gz, committed
# by an earlier session) are put back into the worktree's staging folder. Then `python -m bench
# publish --only FOLDER... --staging parts/publish --resume` runs there under `timeout`. After,
# for each FOLDER: what is still staged there comes back here, compressed (commit it); a folder
# the worktree published (its commands all finished and its records passed the check) goes to
# parts/published/FOLDER, to be moved into results/ when it lands, and its part here is removed.
#
# Run it in the background and keep its output outside the repository, e.g.
#   nohup parts/continue.sh 327b033 150 tuning2-quick-cpu > /tmp/continue.log 2>&1 &
# Environment: PYTHON (default .venv/bin/python of this checkout), BENCH_WORKTREE (default
# /tmp/wt-COMMIT).
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: parts/continue.sh COMMIT MINUTES FOLDER..." >&2
  exit 2
fi
repo=$(git rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --verify "$1^{commit}")
minutes=$2
shift 2
wt=${BENCH_WORKTREE:-/tmp/wt-${commit:0:7}}
py=${PYTHON:-$repo/.venv/bin/python}

if [ ! -d "$wt" ]; then
  git -C "$repo" worktree add --detach "$wt" "$commit" >/dev/null
fi
if [ "$(git -C "$wt" rev-parse HEAD)" != "$commit" ]; then
  echo "continue: $wt is a checkout of another commit; set BENCH_WORKTREE" >&2
  exit 2
fi

# The small files of a staging folder besides its records, from $1 to $2.
copy_extras() {
  mkdir -p "$2"
  for extra in manifest.json tuned.json .complete; do
    if [ -f "$1/$extra" ]; then cp "$1/$extra" "$2/"; fi
  done
}

for f in "$@"; do
  part=$repo/parts/publish/$f
  stage=$wt/parts/publish/$f
  if [ -f "$part/records.jsonl.gz" ] && [ ! -f "$stage/records.jsonl" ]; then
    copy_extras "$part" "$stage"
    gunzip -c "$part/records.jsonl.gz" > "$stage/records.jsonl"
    echo "continue: $f: $(wc -l < "$stage/records.jsonl") staged records put back"
  fi
done

# Publishing a folder fills FINDINGS' quotes of it, and stops at a quote of a cell the new
# records lack (a tune of other methods than before): the worktree's FINDINGS, which is not
# brought back, keeps those quotes as plain text. FINDINGS here is brought up to date, its prose
# read again, when the folder lands in results/.
"$py" - "$wt/results/FINDINGS.md" "$@" <<'EOF'
import re, sys
path, folders = sys.argv[1], sys.argv[2:]
text = open(path, encoding="utf-8").read()
for f in folders:
    text = re.sub(r"<!--q\s+" + re.escape(f) + r"\s[^>]*?-->((?:(?!<!--/?q\b).)*?)<!--/q-->",
                  r"\1", text, flags=re.S)
open(path, "w", encoding="utf-8").write(text)
EOF

set +e
(cd "$wt" && OMP_NUM_THREADS=1 PYTHONPATH=$wt timeout "${minutes}m" "$py" -m bench publish \
  --only "$@" --staging parts/publish --resume)
rc=$?
set -e
echo "continue: publish ended with exit code $rc"

for f in "$@"; do
  part=$repo/parts/publish/$f
  stage=$wt/parts/publish/$f
  if [ -f "$stage/records.jsonl" ]; then
    copy_extras "$stage" "$part"
    gzip -c "$stage/records.jsonl" > "$part/records.jsonl.gz"
    echo "continue: $f: $(wc -l < "$stage/records.jsonl") records kept in parts/publish/$f"
  elif [ -n "$(git -C "$wt" status --porcelain -- "results/$f")" ]; then
    rm -rf "$repo/parts/published/$f" "$part"
    mkdir -p "$repo/parts/published"
    cp -r "$wt/results/$f" "$repo/parts/published/$f"
    echo "continue: $f: published at ${commit:0:12}, kept in parts/published/$f"
  fi
done
exit "$rc"
