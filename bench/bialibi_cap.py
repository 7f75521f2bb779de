#!/usr/bin/env python3
"""How far into a whole article does a LittleBird reader still find answers, with BiALiBi's
distances capped at each of several values (config key bialibi_max_distance, 0 = no cap)?

For each cap, a copy of the model directory (weights linked, config.json changed) reads each
sampled question's whole SQuAD article in one window (`longqa eval --unit article`, articles
the model did not train on); EM/F1 overall and F1 by where the answer sits in the article.
Writes bench/results/bialibi_cap.json.

    python3 bench/bialibi_cap.py MODEL_DIR [--caps 0,2048,1024,512,256] [--sample 200]
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQUAD = os.path.join(ROOT, "..", "shared", "data", "squad1.1", "dev-v1.1_public.json")
HELD_OUT = 16  # articles 16- were never trained on
BUCKET = 2000  # answer position buckets, in tokens (characters / 4.7, SQuAD's average)


def answer_positions():
    """question id -> the answer's character offset in its article (paragraphs joined by a blank line)."""
    positions = {}
    for article in json.load(open(SQUAD))["data"][HELD_OUT:]:
        offset = 0
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                positions[qa["id"]] = offset + qa["answers"][0]["answer_start"]
            offset += len(paragraph["context"]) + 2
    return positions


def capped_copy(model, cap, folder):
    os.makedirs(folder)
    for name in os.listdir(model):
        if name != "config.json":
            os.symlink(os.path.abspath(os.path.join(model, name)), os.path.join(folder, name))
    config = json.load(open(os.path.join(model, "config.json")))
    config["bialibi_max_distance"] = cap
    json.dump(config, open(os.path.join(folder, "config.json"), "w"), indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--caps", default="0,2048,1024,512,256")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "bialibi_cap.json"))
    args = parser.parse_args()
    positions = answer_positions()
    longqa = os.path.join(ROOT, "build", "cli", "longqa")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for cap in [int(c) for c in args.caps.split(",")]:
            model = os.path.join(tmp, f"cap{cap}")
            capped_copy(args.model, cap, model)
            per_question = os.path.join(tmp, f"cap{cap}.jsonl")
            result = json.loads(subprocess.run(
                [longqa, "eval", "--model", model, "--data", SQUAD, "--articles", f"{HELD_OUT}:", "--unit", "article",
                 "--sample", str(args.sample), "--threads", str(args.threads), "--json", "--per-question", per_question],
                check=True, capture_output=True, text=True).stdout)
            by_position = collections.defaultdict(list)
            for line in open(per_question):
                q = json.loads(line)
                bucket = min(int(positions[q["id"]] / 4.7 // BUCKET) * BUCKET, 5 * BUCKET)
                by_position[bucket].append(q["f1"])
            run = {"bialibi_max_distance": cap, "exact_match": result["exact_match"], "f1": result["f1"],
                   "questions": result["questions"],
                   "f1_by_answer_token": {f"{k}-" if k == 5 * BUCKET else f"{k}-{k + BUCKET}":
                                          {"questions": len(v), "f1": 100 * sum(v) / len(v)}
                                          for k, v in sorted(by_position.items())}}
            runs.append(run)
            print(f"cap {cap:>5}: EM {run['exact_match']:.1f} F1 {run['f1']:.1f}  by answer position: " +
                  "  ".join(f"{k} {v['f1']:.1f} ({v['questions']})" for k, v in run["f1_by_answer_token"].items()),
                  file=sys.stderr)
    out = {"model": args.model, "data": "SQuAD 1.1 dev public, articles 16-23, whole article in one window",
           "sample": args.sample, "threads": args.threads, "runs": runs}
    with open(args.out + ".tmp", "w") as f:
        json.dump(out, f, indent=2)
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
