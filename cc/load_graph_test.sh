#!/usr/bin/env bash
# bazel test //:load_graph_test: the Bazel-built loader runs a real graph, as a GraphDef and as a
# SavedModel, and reports errors.
# Usage: load_graph_test.sh LOAD_GRAPH
set -euo pipefail
loader="$1"
graph="cc/testdata/identity.pbtxt"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

# Three 2 x 5 images; image i has its brightest pixel (255) at position label[i].
labels=(3 0 9)
{
  printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x05'
  for label in "${labels[@]}"; do
    for pixel in 0 1 2 3 4 5 6 7 8 9; do
      if [ "$pixel" -eq "$label" ]; then printf '\xff'; else printf '\x10'; fi
    done
  done
} > "$tmp/images"
{
  printf '\x00\x00\x08\x01\x00\x00\x00\x03'
  printf '\x03\x00\x09'
} > "$tmp/labels"

out=$("$loader" --graph="$graph" --images="$tmp/images" --labels="$tmp/labels" 2>/dev/null)
echo "$out"
grep -q "ran 3 images through X -> Y (10 values each)" <<<"$out"
grep -q "^accuracy 1.000000 (3 of 3)" <<<"$out"

# The same graph as a SavedModel folder, by op names and through its signature.
saved_model="cc/testdata/identity_saved_model"
out=$("$loader" --graph="$saved_model" --images="$tmp/images" --labels="$tmp/labels" 2>/dev/null)
echo "$out"
grep -q "ran 3 images through X -> Y (10 values each)" <<<"$out"
grep -q "^accuracy 1.000000 (3 of 3)" <<<"$out"
out=$("$loader" --graph="$saved_model" --signature=serving_default --images="$tmp/images" \
  --labels="$tmp/labels" 2>/dev/null)
grep -q "ran 3 images through X:0 -> Y:0 (10 values each)" <<<"$out"
grep -q "^accuracy 1.000000 (3 of 3)" <<<"$out"

# Every failure is one "error:" line and exit status 1.
expect_error() {
  local message="$1"; shift
  local status=0 err
  err=$("$loader" "$@" 2>&1 >/dev/null) || status=$?
  [ "$status" -eq 1 ] || { echo "expected exit 1 for $*, got $status"; exit 1; }
  grep -q "^error: .*$message" <<<"$err" || { echo "expected '$message' for $*, got: $err"; exit 1; }
}
expect_error "does not exist" --graph=missing.pb --images="$tmp/images"
expect_error "node 'Z' is not in the graph" --graph="$graph" --images="$tmp/images" --input=Z
expect_error "magic number 2049, expected 2051" --graph="$graph" --images="$tmp/labels"
expect_error "unknown flag --bogus" --bogus=1
expect_error "has no signature 'encode'" --graph="$saved_model" --images="$tmp/images" --signature=encode
expect_error "applies to a SavedModel folder" --graph="$graph" --images="$tmp/images" --signature=serving_default
echo "load_graph_test: all checks passed"
