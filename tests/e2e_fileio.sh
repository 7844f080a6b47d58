#!/bin/sh
# End-to-end: what qlens does with files that are not what they seem and with
# outputs that fail (README, Reliability): write errors on standard output,
# saving onto symlinks / devices / FIFOs, reading non-regular or endless
# files, imports that would break a store, non-finite weights.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
S=$QLENS_SHARED
D=$S/data
SMALL="--ctx 64 --chunks 2 --calib-ctx 64 --calib-chunks 2"

# --- a full standard output is an I/O error (exit 3), for every command --
full_stdout() { # NAME CMD...: stdout on /dev/full must give exit 3 and a message
    name=$1; shift
    "$@" >/dev/full 2>"$T_TMP/err"; rc=$?
    if [ "$rc" = 3 ] && grep -q "standard output: write error" "$T_TMP/err"; then pass "$name > /dev/full: exit 3"
    else fail "$name > /dev/full: exit $rc, wanted 3 with a message"; sed 's/^/  err: /' "$T_TMP/err" | head -5; fi
}
if [ -w /dev/full ]; then
    full_stdout "--version" "$Q" --version
    full_stdout "--help" "$Q" --help
    full_stdout "info" "$Q" info
    full_stdout "info --json" "$Q" info --json
    full_stdout "stats --json" "$Q" stats --json
    full_stdout "stats --csv" "$Q" stats --csv
    full_stdout "tokenize" "$Q" tokenize hello
    full_stdout "ppl" "$Q" ppl "$D/tinystories-eval.txt" --ctx 64 --chunks 2
    full_stdout "quant" "$Q" quant --method rtn --bits 8 $SMALL
    full_stdout "results list" "$Q" results list
    full_stdout "correlate" "$Q" correlate --all --where 'method=GPTQ|SpQR,bits=3..4'
else
    pass "no /dev/full here: write-error checks skipped"
fi

# --- saving onto links, devices, FIFOs ----------------------------------
cat >"$T_TMP/one.json" <<'J'
{"schema":"qlens-results/1","source":"t","results":[
{"id":"one","model":"m","method":"x","bits":{"w":4,"a":16,"kv":16},"ppl":{"w":9}}]}
J
cp "$T_TMP/one.json" "$T_TMP/real.json"
ln -s real.json "$T_TMP/link.json"
expect_rc 0 "merge -o through a symlink" -- "$Q" results merge "$T_TMP/one.json" papers -o "$T_TMP/link.json"
if [ -L "$T_TMP/link.json" ] && grep -q jin2024 "$T_TMP/real.json"; then pass "the link stays a link, its target is written"
else fail "merge -o replaced the symlink instead of writing its target"; fi
mkfifo "$T_TMP/fifo.json"
expect_rc 3 "merge -o onto a FIFO is refused" -- timeout 20 "$Q" results merge "$T_TMP/one.json" -o "$T_TMP/fifo.json"
expect_grep "fifo.json: not a regular file \(a FIFO\)" "$T_TMP/err" "the FIFO is named"
[ -p "$T_TMP/fifo.json" ] && pass "the FIFO is still a FIFO" || fail "the FIFO was replaced"
expect_rc 3 "import --into a character device is refused" -- timeout 20 "$Q" results import "$T_TMP/one.json" --into /dev/null
expect_grep "/dev/null: not a regular file \(a character device\)" "$T_TMP/err" "the device is named"
[ -c /dev/null ] && pass "/dev/null is still a device" || fail "/dev/null was replaced"
ln -s nowhere/x.json "$T_TMP/dangling.json"
expect_rc 3 "import --into a dangling symlink is refused" -- "$Q" results import "$T_TMP/one.json" --into "$T_TMP/dangling.json"
ln -s real.json "$T_TMP/link2.json"
expect_rc 0 "sweep --out through a symlink" -- "$Q" sweep --methods rtn --bits 8 --ctx 64 --chunks 1 --out "$T_TMP/link2.json"
if [ -L "$T_TMP/link2.json" ] && grep -q '"method":"RTN"' "$T_TMP/real.json"; then pass "sweep wrote the link's target"
else fail "sweep --out replaced the symlink"; fi
expect_rc 3 "sweep --out onto a FIFO is refused before running" -- timeout 20 "$Q" sweep --methods rtn --bits 8 --ctx 64 --chunks 1 --out "$T_TMP/fifo.json"

# --- reading what is not a regular file, or too much ---------------------
expect_rc 3 "results list --store /dev/zero" -- timeout 20 "$Q" results list --store /dev/zero
expect_grep "/dev/zero: not a regular file" "$T_TMP/err" "--store names the device"
expect_rc 3 "results import --into /dev/zero" -- timeout 20 "$Q" results import "$T_TMP/one.json" --into /dev/zero
expect_rc 3 "results import of /dev/zero" -- timeout 20 "$Q" results import /dev/zero
expect_rc 3 "tokenize --file /dev/zero" -- timeout 20 "$Q" tokenize --file /dev/zero
expect_rc 3 "tokenize --file FIFO does not block" -- timeout 20 "$Q" tokenize --file "$T_TMP/fifo.json"
expect_rc 3 "tokenize with /dev/zero as the model" -- timeout 20 "$Q" tokenize /dev/zero hello
expect_grep "not a regular file" "$T_TMP/err" "the device model is refused by name"
mkfifo "$T_TMP/model.bin"
expect_rc 3 "info on a FIFO does not block" -- timeout 20 "$Q" info "$T_TMP/model.bin"
expect_grep "model.bin: not a regular file \(a FIFO\)" "$T_TMP/err" "the FIFO model is named"
expect_rc 3 "ppl on a FIFO model does not block" -- timeout 20 "$Q" ppl "$T_TMP/model.bin" "$D/tinystories-eval.txt"
expect_rc 3 "ppl on /dev/zero as the text" -- timeout 20 "$Q" ppl /dev/zero
head -c 67108864 /dev/zero >"$T_TMP/zeros.bin"
expect_rc 1 "a 64 MB zero file is no llama2.c tokenizer" -- timeout 60 "$Q" tokenize "$T_TMP/zeros.bin" hello
expect_grep "not a llama2.c" "$T_TMP/err" "the zero file is explained"
rm -f "$T_TMP/zeros.bin"
printf 'hello world' | "$Q" tokenize --file - >"$T_TMP/out" 2>"$T_TMP/err" && grep -q "ld$" "$T_TMP/out" &&
    pass "tokenize --file - still reads a pipe" || fail "tokenize --file - from a pipe"
if [ -z "$QLENS_SANITIZED" ]; then # 1 GiB through ASan takes minutes; check_afile covers the cap
    expect_rc 1 "tokenize --file - from /dev/zero stops at the cap" -- timeout 120 sh -c "'$Q' tokenize --file - </dev/zero"
    expect_grep "standard input: larger than" "$T_TMP/err" "the stdin cap is named"
fi

# --- an import is checked with the rules of loading: the store stays loadable
bad_import() { # NAME JSON PATTERN
    printf '%s\n' "$2" >"$T_TMP/imp.json"
    cp "$T_TMP/one.json" "$T_TMP/store.json"
    expect_rc 1 "import refuses $1" -- "$Q" results import "$T_TMP/imp.json" --into "$T_TMP/store.json"
    expect_grep "$3" "$T_TMP/err" "the refusal of $1 says what is wrong"
    cmp -s "$T_TMP/one.json" "$T_TMP/store.json" && pass "store untouched after $1" || fail "store changed by $1"
    expect_rc 0 "store still validates after $1" -- "$Q" results validate "$T_TMP/store.json"
}
bad_import "bits.w 100" '{"ppl":9.5,"model":"m","bits":{"w":100,"a":16,"kv":16}}' "bits.w: must be in 1..64"
bad_import "a negative stderr" '{"ppl":9.5,"stderr":-1,"model":"m"}' "stderr: must be >= 0"
bad_import "model name /" '{"ppl":9.5,"model":"/"}' "model: must not be empty"
bad_import "a negative lm-eval stderr" '{"results":{"arc":{"acc,none":0.5,"acc_stderr,none":-0.1}},"config":{"model_args":"pretrained=x"}}' "arc.stderr: must be >= 0"

# --- non-finite weights: exit 1 naming the tensor or the overflow, never a number
mkdir -p "$T_TMP/nf"
cp "$S/models/tok512.bin" "$T_TMP/nf/tokenizer.bin"
python3 - "$S/models/stories260K.bin" "$T_TMP/nf" <<'PY'
import array, struct, sys
d = open(sys.argv[1], 'rb').read()
dim, hid, nl, nh, nkv, vocab, seq = struct.unpack('<7i', d[:28])
w = array.array('f'); w.frombytes(d[28:])
nan = array.array('f', w); nan[vocab * dim + nl * dim + 10] = float('nan')  # blk.0.attn_q row 0 col 10
open(sys.argv[2] + '/nanq.bin', 'wb').write(d[:28] + nan.tobytes())
huge = array.array('f', [x * 1e30 for x in w])   # squares overflow float32
open(sys.argv[2] + '/huge.bin', 'wb').write(d[:28] + huge.tobytes())
PY
expect_rc 1 "ppl on a NaN weight" -- "$Q" ppl "$T_TMP/nf/nanq.bin" "$D/tinystories-eval.txt" --ctx 64 --chunks 2
expect_grep "blk.0.attn_q: weight 10 \(row 0\) is NaN" "$T_TMP/err" "ppl names the NaN tensor"
expect_rc 1 "quant on a NaN weight" -- "$Q" quant "$T_TMP/nf/nanq.bin" --method rtn --bits 4 $SMALL
expect_grep "blk.0.attn_q: weight row 0 col 10 is NaN" "$T_TMP/err" "quant names the NaN tensor"
expect_rc 1 "ppl on huge weights reports the overflow" -- "$Q" ppl "$T_TMP/nf/huge.bin" "$D/tinystories-eval.txt" --ctx 64 --chunks 2
expect_grep "overflows float32" "$T_TMP/err" "the overflow is named"
if grep -q "PPL" "$T_TMP/out"; then fail "no perplexity printed for huge weights"; else pass "no perplexity printed for huge weights"; fi
expect_rc 1 "quant on huge weights" -- "$Q" quant "$T_TMP/nf/huge.bin" --method gptq --bits 4 $SMALL

# --- sweep: the CSV replaced atomically and quoted, an interrupted or
# --append run keeps what the store held and what others added meanwhile
mkdir -p "$T_TMP/sw"
cp "$S/models/stories260K.bin" "$T_TMP/sw/my\"model.bin"
cp "$S/models/tok512.bin" "$T_TMP/sw/tokenizer.bin"
echo "old,csv" >"$T_TMP/sw/runs.csv"
ln "$T_TMP/sw/runs.csv" "$T_TMP/sw/keep.csv"   # a second name for the old CSV's inode
expect_rc 0 "sweep with a quote in the model name" -- "$Q" sweep "$T_TMP/sw/my\"model.bin" --methods rtn --bits 8 --ctx 64 --chunks 1 --out "$T_TMP/sw/s.json" --csv "$T_TMP/sw/runs.csv"
grep -q '^old,csv$' "$T_TMP/sw/keep.csv" && pass "the CSV is replaced by rename, not rewritten in place" || fail "the old CSV was overwritten in place"
python3 - "$T_TMP/sw/runs.csv" <<'PY' && pass "sweep CSV: the quote is doubled, every row has 20 fields" || fail "sweep CSV does not parse"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert len(rows) == 3 and all(len(r) == 20 for r in rows), rows
assert rows[1][0].startswith('my"model/'), rows[1][0]
PY

# wait_line FILE PATTERN: until a line matches (the sweep printed a row), at most 120 s
wait_line() { i=0; while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done; }
GRID="--methods rtn,gptq,awq --bits 8,4,3 --ctx 64 --chunks 2 --calib-ctx 64 --calib-chunks 2"
cp "$T_TMP/one.json" "$T_TMP/sw/int.json"
"$Q" sweep $GRID --out "$T_TMP/sw/int.json" >"$T_TMP/sw/int.out" 2>"$T_TMP/sw/int.err" &
pid=$!
wait_line "$T_TMP/sw/int.out" "float"
kill -INT $pid 2>/dev/null; wait $pid; rc=$?
[ "$rc" = 130 ] && pass "SIGINT stops the sweep with exit 130" || fail "SIGINT: exit $rc, wanted 130"
python3 - "$T_TMP/sw/int.json" <<'PY' && pass "an interrupted sweep keeps the store's earlier entries and adds the finished ones" || fail "interrupted sweep dropped entries"
import json, sys
ids = [e["id"] for e in json.load(open(sys.argv[1]))["results"]]
assert "one" in ids and any(i.endswith("/float") for i in ids), ids
PY

cp "$T_TMP/one.json" "$T_TMP/sw/app.json"
printf '%s\n' '{"ppl":7.5,"model":"other","text":"x.txt"}' >"$T_TMP/sw/imp.json"
"$Q" sweep $GRID --append --out "$T_TMP/sw/app.json" >"$T_TMP/sw/app.out" 2>"$T_TMP/sw/app.err" &
pid=$!
wait_line "$T_TMP/sw/app.out" "float"
if kill -0 $pid 2>/dev/null; then
    expect_rc 0 "an import while a sweep --append runs" -- "$Q" results import "$T_TMP/sw/imp.json" --into "$T_TMP/sw/app.json"
    wait $pid
    python3 - "$T_TMP/sw/app.json" <<'PY' && pass "sweep --append keeps an import made while it ran" || fail "sweep --append lost the concurrent import"
import json, sys
ids = [e["id"] for e in json.load(open(sys.argv[1]))["results"]]
assert "one" in ids and any(i.startswith("other/") for i in ids) and any(i.endswith("/float") for i in ids), ids
PY
else
    wait $pid; fail "the sweep ended before the import could run"
fi
t_done
