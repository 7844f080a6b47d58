#!/usr/bin/env python3
"""Convert the papers' published numbers into qlens's results schema.

    python3 scripts/convert_papers.py [SHARED_REFERENCE_DIR] [OUT_DIR]

Reads jin2024_results.json and li2024_results.json (defaults:
../shared/reference) and writes assets/results/jin2024.json and
assets/results/li2024.json in schema "qlens-results/1" (documented in
README.md and analysis/results.h).  Values are copied as
published; only the layout and the unit labels change.  Run once; the
output is committed as the project's bundled data.
"""
import json
import os
import sys

SCHEMA = "qlens-results/1"


def jin_unit(name):
    """Unit and metric of one Jin et al. benchmark key (their 'units' map)."""
    if name.startswith(("mmlu", "ceval")):
        return "percent", "acc"
    if name.startswith("flores200_bleu"):
        return "bleu", "bleu"
    if name.startswith(("xsum_", "cnndm_")):
        return "fraction", name.split("_", 1)[1]          # rouge1/rouge2/rougeL
    if name == "followbench_csl":
        return "score", "csl_0_5"
    if name.startswith("bbq_bias"):
        return "bias", "bias_score"
    if name in ("followbench_hsr", "followbench_ssr"):
        return "fraction", name.split("_")[1]
    if name in ("gsm8k", "snli", "truthfulqa_mc1"):
        return "fraction", "acc"
    raise SystemExit("jin2024: no unit known for benchmark %r" % name)


def jin_bits(m):
    w = m["bits"]
    # LLM.int8() multiplies int8 weights by int8 activations (outlier
    # feature dimensions stay in 16 bit); the other methods are weight-only.
    a = 8 if m["method"].startswith("LLM.int8") else 16
    return {"w": w, "a": a if w < 16 else 16, "kv": 16}


def jin_entry(m, outliers):
    method = m["method"]
    short = "int8" if method.startswith("LLM.int8") else method
    settings = {"datatype": m["datatype"],
                "significant_vs_bf16_p05": m.get("significant_vs_bf16_p05", []),
                "table2_summary": m.get("table2_summary", {})}
    key = (m["model"], method, m["bits"])
    if key in outliers:
        settings["outlier_proportion_pct"] = outliers[key]
    bench = {}
    for k, v in m["benchmarks"].items():
        unit, metric = jin_unit(k)
        bench[k] = {"value": v, "metric": metric, "unit": unit}
    return {
        "id": "jin2024/%s/%s-%d" % (m["model"], short, m["bits"]),
        "model": m["model"], "method": method, "bits": jin_bits(m),
        "group_size": None, "settings": settings,
        "ppl": dict(m["perplexity"]), "benchmarks": bench,
        "memory_gb": m.get("memory_gb"), "speed": m.get("tokens_per_s"),
        "source": "Jin et al. 2024, Tables 6-15",
    }


def jin_ablation(r):
    cfg = r["config"]                                   # "w2g16 w/o outlier"
    group = int(cfg.split()[0].split("g")[1])
    with_outliers = "w/ outlier" in cfg
    slug = cfg.replace(" w/o outlier", "-no-outliers").replace(" w/ outlier", "-outliers")
    return {
        "id": "jin2024/%s/SpQR-table4-%s" % (r["model"], slug),
        "model": r["model"], "method": r["method"],
        "bits": {"w": r["bits"], "a": 16, "kv": 16}, "group_size": group,
        "settings": {"config": cfg, "outlier_isolation": with_outliers,
                     "statistics": "bilevel 3-bit quantization of group statistics",
                     "table": "Table 4 (ablation)"},
        "ppl": dict(r["perplexity"]), "benchmarks": {},
        "memory_gb": None, "speed": None, "source": "Jin et al. 2024, Table 4",
    }


def convert_jin(src):
    d = json.load(open(src))
    outliers = {(o["model"], o["method"], o["bits"]): o["outlier_proportion_pct"]
                for o in d["spqr_outlier_proportion_table5"]}
    results = [jin_entry(m, outliers) for m in d["models"]]
    results += [jin_ablation(r) for r in d["spqr_ablation_table4"]["rows"]]
    return {
        "schema": SCHEMA,
        "source": "Jin et al. 2024, published tables; " + d["source"]["retrieved_from"],
        "citation": d["source"]["paper"] + " " + " ".join(d["source"]["urls"]),
        "notes": d["notes"] + ["Paper inconsistency: " + c for c in d["consistency_checks"]]
                 + ["Units: " + "; ".join("%s = %s" % kv for kv in d["units"].items())],
        "results": results,
    }


LI_UNITS = {"truthfulqa": "fraction", "ethics": "fraction", "longeval": "fraction",
            "mtbench": "score"}


def li_unit(name):
    for prefix, unit in LI_UNITS.items():
        if name.startswith(prefix):
            metric = "gpt4_score" if unit == "score" else "acc"
            return unit, metric
    if name.startswith("advglue_"):
        return "percent", "acc_" + name.rsplit("_acc_", 1)[-1]
    return "percent", "acc"


def li_entry(m):
    bench = {}
    for k, v in m["benchmarks"].items():
        unit, metric = li_unit(k)
        bench[k] = {"value": v, "metric": metric, "unit": unit}
    return {
        "id": "li2024/%s/%s/%s" % (m["model"], m["method"], m["config"]),
        "model": m["model"], "method": m["method"],
        "bits": {"w": m["w_bits"], "a": m["a_bits"], "kv": m["kv_bits"]},
        "group_size": None,
        "settings": {"config": m["config"], "quant_target": m["quant_target"],
                     "model_normalized": m["model_normalized"]},
        "ppl": {}, "benchmarks": bench, "memory_gb": None, "speed": None,
        "source": "Li et al. 2024, qllm-eval: " + ", ".join(m["source_files"]),
    }


def convert_li(src):
    d = json.load(open(src))
    cc = d["consistency_checks"]
    notes = list(d["notes"]) + ["Not in the source: " + n for n in d["not_found"]]
    for k, v in cc.items():
        notes += ["%s: %s" % (k, x) for x in v]
    notes += ["Configs: %s = %s" % kv for kv in d["config_labels"].items()]
    notes += ["Units: %s = %s" % kv for kv in d["units"].items()]
    return {
        "schema": SCHEMA,
        "source": "Li et al. 2024; " + d["source"]["retrieved_from"],
        "citation": d["source"]["paper"] + " " + " ".join(d["source"]["urls"]),
        "notes": notes,
        "results": [li_entry(m) for m in d["models"]],
    }


def write_store(f, doc):
    """Header fields indented, then one entry per line (diffable, compact)."""
    f.write("{\n")
    for k in ("schema", "source", "citation", "notes"):
        f.write(' "%s": %s,\n' % (k, json.dumps(doc[k], indent=1, ensure_ascii=False)))
    f.write(' "results": [\n')
    rows = [json.dumps(r, ensure_ascii=False) for r in doc["results"]]
    f.write(",\n".join("  " + r for r in rows))
    f.write("\n ]\n}\n")


def main():
    ref = sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"
    out = sys.argv[2] if len(sys.argv) > 2 else "assets/results"
    os.makedirs(out, exist_ok=True)
    for name, fn in (("jin2024", convert_jin), ("li2024", convert_li)):
        doc = fn(os.path.join(ref, name + "_results.json"))
        ids = [r["id"] for r in doc["results"]]
        assert len(ids) == len(set(ids)), name + ": duplicate ids"
        with open(os.path.join(out, name + ".json"), "w") as f:
            write_store(f, doc)
        print("%s: %d entries" % (name, len(ids)))


if __name__ == "__main__":
    main()
