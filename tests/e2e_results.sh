#!/bin/sh
# End-to-end: qlens results / qlens correlate on the bundled papers' data and
# on a user's own lm-eval + qlens ppl files.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN

expect_rc 0 "results --help" -- "$Q" results --help
expect_grep "import FILE" "$T_TMP/out" "results help names import"
expect_rc 0 "correlate --help" -- "$Q" correlate --help
expect_rc 2 "results without subcommand" -- "$Q" results
expect_rc 2 "results bad subcommand" -- "$Q" results frobnicate
expect_rc 2 "import --group with trailing junk" -- "$Q" results import x.json --group 12abc
expect_grep "group wants a positive group size" "$T_TMP/err" "bad --group names the option"
expect_rc 2 "merge of more files than it holds is refused, not cut" -- "$Q" results merge $(seq -f "$T_TMP/m%g.json" 1 65)
expect_grep "at most 64 files" "$T_TMP/err" "too many files says the limit"
expect_rc 2 "correlate --y and --all" -- "$Q" correlate --y mmlu --all
cat >"$T_TMP/quote.json" <<'EOF'
{"schema":"qlens-results/1","source":"t","results":[
{"id":"a \"q\" 1","model":"m","method":"x","bits":{"w":4,"a":16,"kv":16},"ppl":{"w":9},"benchmarks":{"b":{"value":50,"unit":"percent"}}},
{"id":"a2","model":"m","method":"y","bits":{"w":4,"a":16,"kv":16},"ppl":{"w":10},"benchmarks":{"b":{"value":48,"unit":"percent"}}},
{"id":"a3","model":"m","method":"z","bits":{"w":4,"a":16,"kv":16},"ppl":{"w":12},"benchmarks":{"b":{"value":40,"unit":"percent"}}}]}
EOF
expect_rc 0 "correlate --csv with a quote in an id" -- "$Q" correlate --store "$T_TMP/quote.json" --y b --csv
expect_grep '^"a ""q"" 1",9,50$' "$T_TMP/out" "correlate CSV doubles the quote inside the id"

# --- bundled data ------------------------------------------------------
expect_rc 0 "list bundled" -- "$Q" results list
expect_grep "^707 of 707 entries" "$T_TMP/out" "bundled store has Jin (39) + Li (668) entries"
expect_rc 0 "list Jin 3/4-bit GPTQ+SpQR" -- "$Q" results list --where 'model=Qwen*,method=GPTQ|SpQR,bits=3..4'
expect_grep "^12 of 707 entries" "$T_TMP/out" "filter selects the paper's 12 configurations"
expect_rc 0 "show one entry" -- "$Q" results show jin2024/Qwen-7B-Chat/GPTQ-4
expect_grep "ppl wikitext2 +9.04" "$T_TMP/out" "show prints the paper's WikiText2 PPL"
expect_grep "mmlu +[0-9.]+  acc, percent" "$T_TMP/out" "show prints metric and unit"
expect_rc 1 "show unknown id" -- "$Q" results show no/such/id

expect_rc 0 "correlate --all on Jin" -- "$Q" correlate --all --where 'model=Qwen*,method=GPTQ|SpQR,bits=3..4'
expect_grep "^mmlu +percent +12 +-0\.8864" "$T_TMP/out" "mmlu row: n=12, r=-0.8864"
expect_grep "^average \|r\| over 27 benchmarks: 0\.8648" "$T_TMP/out" "average |r| row"
expect_rc 0 "correlate --all --json" -- "$Q" correlate --all --where 'method=GPTQ|SpQR,bits=3..4' --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["n_metrics"]==27 and abs(d["mean_abs_r"]-0.8648)<1e-3' "$T_TMP/out" 2>/dev/null
then pass "table JSON parses, 27 metrics"; else fail "table JSON"; head -c 400 "$T_TMP/out"; fi
expect_rc 0 "correlate --y mmlu" -- "$Q" correlate --y mmlu --where 'method=GPTQ|SpQR,bits=3..4'
expect_grep "Pearson r  = -0\.8864" "$T_TMP/out" "single Y: Pearson r"
expect_grep "least-squares line" "$T_TMP/out" "single Y: scatter plot drawn"
expect_rc 0 "correlate --csv" -- "$Q" correlate --y gsm8k --where 'method=GPTQ|SpQR,bits=3..4' --csv
expect_grep '^"jin2024/Qwen-7B-Chat/GPTQ-3",15\.1033' "$T_TMP/out" "CSV points: id,x,y"

expect_rc 0 "correlate --by model" -- "$Q" correlate --by model --where 'model=Qwen*,method=GPTQ|SpQR,bits=3..4'
expect_grep "^Qwen-7B-Chat +4 +26 +0\.9305" "$T_TMP/out" "per-model average |r| (7B: SNLI constant, 26 metrics)"
expect_rc 2 "--by a numeric field" -- "$Q" correlate --by bits

# degenerate selections: clear message, no NaN, exit 1
expect_rc 1 "correlate n<3" -- "$Q" correlate --y mmlu --where 'id=jin2024/Qwen-7B-Chat/GPTQ-[34]'
expect_grep "at least 3 complete pairs, have 2" "$T_TMP/err" "n<3 message"
expect_rc 1 "correlate constant x" -- "$Q" correlate --x bits --y mmlu --where 'model=Qwen*,bits=4'
expect_grep "x is constant" "$T_TMP/err" "constant column message"
expect_rc 1 "correlate empty selection" -- "$Q" correlate --where 'model=nothing'
expect_rc 1 "correlate without X values (Li has no perplexity)" -- "$Q" correlate --all --where 'id=li2024/*'
if grep -qi nan "$T_TMP/out"; then fail "no NaN in degenerate table"; else pass "no NaN in degenerate table"; fi
expect_rc 1 "unknown --y field" -- "$Q" correlate --y mmlux --where 'model=Qwen*'
expect_grep "has a value for 'mmlux'" "$T_TMP/err" "unknown field named"
expect_rc 2 "bad filter" -- "$Q" correlate --where 'bits=three'
expect_grep "not a number" "$T_TMP/err" "bad filter message"

# --- a user's own data: lm-eval results + qlens ppl outputs -------------
i=0
for cfg in "4 10.0 0.71" "3 12.5 0.64" "2 20.0 0.45" "8 9.5 0.72"; do
    set -- $cfg
    cat >"$T_TMP/lm$1.json" <<EOF
{"results": {"arc_easy": {"alias": "arc_easy", "acc,none": $3, "acc_stderr,none": 0.01,
  "acc_norm,none": $3, "acc_norm_stderr,none": 0.01}},
 "config": {"model": "hf", "model_args": "pretrained=/m/tiny,dtype=float32"}, "model_name": "/m/tiny"}
EOF
    cat >"$T_TMP/ppl$1.json" <<EOF
{"model": "/m/tiny.gguf", "text": "/d/wiki.txt", "mode": "llama.cpp", "n_ctx": 512, "ppl": $2, "stderr": 0.1}
EOF
    expect_rc 0 "import lm-eval w$1" -- "$Q" results import "$T_TMP/lm$1.json" --method rtn --bits "$1" --group 32 --into "$T_TMP/mine.json"
    expect_rc 0 "import ppl w$1" -- "$Q" results import "$T_TMP/ppl$1.json" --method rtn --bits "$1" --group 32 --into "$T_TMP/mine.json"
    expect_grep "1 joined" "$T_TMP/err" "ppl w$1 joined with its lm-eval entry"
done
expect_rc 0 "validate own store" -- "$Q" results validate "$T_TMP/mine.json"
expect_grep "ok, 4 entries" "$T_TMP/out" "4 joined entries"
expect_rc 0 "correlate own data" -- "$Q" correlate --store "$T_TMP/mine.json" --y arc_easy --json
# independent value: Pearson r of (10,12.5,20,9.5) vs (.71,.64,.45,.72)
want=$(python3 -c 'import statistics as s; print("%.6f" % s.correlation([10,12.5,20,9.5],[.71,.64,.45,.72]))')
got=$(python3 -c 'import json,sys; print("%.6f" % json.load(open(sys.argv[1]))["r"])' "$T_TMP/out")
if [ -n "$want" ] && [ "$want" = "$got" ]; then pass "own-data r = $got"; else fail "own-data r: got $got want $want"; fi
expect_rc 1 "conflicting re-import" -- "$Q" results import "$T_TMP/ppl2.json" --method rtn --bits 4 --group 32 --into "$T_TMP/mine.json"
expect_grep "ppl.wiki differs" "$T_TMP/err" "conflict names the field"
expect_rc 0 "re-import with --replace" -- "$Q" results import "$T_TMP/ppl2.json" --method rtn --bits 4 --group 32 --into "$T_TMP/mine.json" --replace

# a real `qlens ppl --json` run, when that command is there
if "$Q" ppl --help >/dev/null 2>&1 && [ -n "$QLENS_SHARED" ]; then
    expect_rc 0 "qlens ppl --json" -- "$Q" ppl "$QLENS_SHARED/models/stories260K.bin" "$QLENS_SHARED/data/tinystories-eval.txt" --ctx 64 --chunks 2 --json
    cp "$T_TMP/out" "$T_TMP/realppl.json"
    expect_rc 0 "import real ppl output" -- "$Q" results import "$T_TMP/realppl.json" --into "$T_TMP/real.json"
    expect_rc 0 "show imported ppl" -- "$Q" results show 'stories260K/*' --store "$T_TMP/real.json"
    expect_grep "ppl tinystories-eval" "$T_TMP/out" "ppl dataset named after the text"
fi

# the issue's flow: lm-eval results joined with a real `qlens sweep` file
if "$Q" sweep --help >/dev/null 2>&1 && [ -n "$QLENS_SHARED" ]; then
    expect_rc 0 "qlens sweep (rtn 3/4/8)" -- "$Q" sweep --methods rtn --bits 3,4,8 --groups 32 --ctx 64 --chunks 2 --out "$T_TMP/sweep.json"
    for cfg in "3 0.31" "4 0.52" "8 0.55"; do
        set -- $cfg
        printf '{"results": {"arc_easy": {"acc,none": %s, "acc_stderr,none": 0.01}}, "config": {"model_args": "pretrained=x"}}' "$2" >"$T_TMP/sw$1.json"
        expect_rc 0 "import lm-eval into sweep w$1" -- "$Q" results import "$T_TMP/sw$1.json" --model stories260K --method rtn --bits "$1" --group 32 --into "$T_TMP/sweep.json"
        expect_grep "0 entries added, 1 joined" "$T_TMP/err" "lm-eval w$1 joined the sweep entry (method case ignored)"
    done
    expect_rc 0 "correlate sweep ppl with lm-eval" -- "$Q" correlate --store "$T_TMP/sweep.json" --y arc_easy
    expect_grep "^n += 3 complete pairs" "$T_TMP/out" "3 joined configurations correlated"
fi

# a real `qlens quant --json` joins the sweep entry of the same configuration
if "$Q" quant --help >/dev/null 2>&1 && [ -f "$T_TMP/sweep.json" ]; then
    expect_rc 0 "qlens quant --json" -- "$Q" quant --method rtn --bits 4 --group 32 --ctx 64 --chunks 2 --json
    cp "$T_TMP/out" "$T_TMP/quant.json"
    expect_rc 0 "import quant output into the sweep" -- "$Q" results import "$T_TMP/quant.json" --into "$T_TMP/sweep.json"
    expect_grep "qlens-quant, 0 entries added, 2 joined" "$T_TMP/err" "quant run and float baseline joined the sweep's"
fi

# concurrent imports into one store: the directory lock keeps every entry
for b in 2 3 4 5 6 7 8 9 10 11 12 13; do
    "$Q" results import "$T_TMP/lm4.json" --model "par$b" --into "$T_TMP/par.json" 2>/dev/null &
done
wait
expect_rc 0 "validate concurrently written store" -- "$Q" results validate "$T_TMP/par.json"
expect_grep "ok, 12 entries" "$T_TMP/out" "12 concurrent imports, 12 entries"

# --- merge, validation errors, I/O errors --------------------------------
expect_rc 0 "merge papers + mine" -- "$Q" results merge papers "$T_TMP/mine.json" -o "$T_TMP/all.json"
expect_rc 0 "validate merged" -- "$Q" results validate "$T_TMP/all.json"
expect_grep "ok, 711 entries" "$T_TMP/out" "merged store has 711 entries"
printf '{"schema": "qlens-results/1", "results": [{"id": "a", "model": "m", "method": "x", "bits": {"w": 4, "a": 16, "kv": 16}, "benchmarks": {"mmlu": {"value": 50, "unit": "pct"}}}]}' >"$T_TMP/bad.json"
expect_rc 1 "validate bad unit" -- "$Q" results validate "$T_TMP/bad.json"
expect_grep "bad.json: results\[0\]\.benchmarks\.mmlu\.unit: unknown unit 'pct'" "$T_TMP/err" "error names file and JSON path"
expect_rc 3 "missing store" -- "$Q" correlate --store "$T_TMP/nope.json"
mkdir -p "$T_TMP/noassets"
expect_rc 3 "no bundled data" -- env QLENS_ASSETS="$T_TMP/noassets" "$Q" results list
expect_grep "QLENS_ASSETS" "$T_TMP/err" "message says how to find the assets"
t_done
