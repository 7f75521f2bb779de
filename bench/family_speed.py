#!/usr/bin/env python3
"""Each checkpoint family's QA forward on the CPU: longqa against transformers' own code, same model, one run.

For every family (roberta, xlm-roberta, big_bird, longformer, modernbert) a random *ForQuestionAnswering of
default-en's size (6 layers, hidden 384, 12 heads, FFN 1536; --tiny for a seconds-long check) is saved with
save_pretrained and a WordPiece vocab.txt, then timed at each length up to its maximum:
  transformers  model(input_ids, attention_mask[, global_attention_mask]) in torch.inference_mode, in a child
                process of its own (so its peak RSS is its own), torch threads = --threads
  longqa        bench/reader_length_bench --mode forward on the same directory, threads = --threads
Inputs: random ids in the family's pair template around a 32-token question (<s> Q </s></s> D </s> or [CLS] Q [SEP]
D [SEP]); Longformer's global attention on the question as LongformerForQuestionAnswering sets it, BigBird
block-sparse (block 64, 3 random blocks), Longformer window 512, ModernBERT local 128 / global every third layer
(sdpa). Timing: one warm-up, the median of --reps. Peak memory: the process's peak RSS after each length (lengths
ascend). Writes bench/results/family_speed.json (or --out) after every family.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536)
TINY = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128)
VOCAB = 8000
FAMILIES = {  # family: (the lengths measured, max positions)
    "roberta": ([512], 514),
    "xlm-roberta": ([512], 514),
    "big_bird": ([1024, 4096, 8192], 8192),
    "longformer": ([1024, 4096, 8192], 8194),
    "modernbert": ([1024, 4096, 8192], 8192),
}


def save_model(family, directory, size, max_positions):
    import torch
    import transformers as t
    torch.manual_seed(0)
    common = dict(vocab_size=VOCAB, max_position_embeddings=max_positions, **size)
    if family in ("roberta", "xlm-roberta"):
        cls = (t.RobertaConfig, t.RobertaForQuestionAnswering) if family == "roberta" else \
            (t.XLMRobertaConfig, t.XLMRobertaForQuestionAnswering)
        model = cls[1](cls[0](**common, type_vocab_size=1, pad_token_id=1))
    elif family == "big_bird":
        model = t.BigBirdForQuestionAnswering(t.BigBirdConfig(**common, attention_type="block_sparse", block_size=64,
                                                              num_random_blocks=3, pad_token_id=0, sep_token_id=3))
    elif family == "longformer":
        model = t.LongformerForQuestionAnswering(t.LongformerConfig(**common, type_vocab_size=1, pad_token_id=1,
                                                                    sep_token_id=3, attention_window=512))
    else:
        model = t.ModernBertForQuestionAnswering(t.ModernBertConfig(
            **common, local_attention=128, global_attn_every_n_layers=3, pad_token_id=0, sep_token_id=3,
            cls_token_id=2, bos_token_id=2, eos_token_id=3, attn_implementation="sdpa"))
    model.save_pretrained(directory, safe_serialization=True)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:  # [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(VOCAB - 5)]) + "\n")


def hf_child(family, directory, lengths, threads, reps):
    """Runs in a child process: times transformers' forward at each length, prints one JSON row per length."""
    import resource
    import statistics
    import time
    import torch
    import transformers as t
    torch.set_num_threads(threads)
    cls = {"roberta": t.RobertaForQuestionAnswering, "xlm-roberta": t.XLMRobertaForQuestionAnswering,
           "big_bird": t.BigBirdForQuestionAnswering, "longformer": t.LongformerForQuestionAnswering,
           "modernbert": t.ModernBertForQuestionAnswering}[family]
    model = cls.from_pretrained(directory).eval()
    for n in lengths:
        torch.manual_seed(0)
        ids = torch.randint(5, VOCAB, (1, n))
        ids[0, 0] = 2
        ids[0, 33] = 3            # [CLS] question(32) [SEP] document [SEP]
        ids[0, n - 1] = 3
        kwargs = dict(input_ids=ids, attention_mask=torch.ones(1, n, dtype=torch.long))
        if family == "longformer":  # the question's tokens, as _compute_global_attention_mask sets them
            kwargs["global_attention_mask"] = (torch.arange(n) < 33).long().unsqueeze(0)
        times = []
        try:
            for r in range(reps + 1):
                start = time.perf_counter()
                with torch.inference_mode():
                    model(**kwargs)
                if r > 0:
                    times.append((time.perf_counter() - start) * 1000)
            row = {"tokens": n, "median_ms": statistics.median(times), "status": "ok"}
        except Exception as e:  # e.g. out of memory: a result, not the end
            row = {"tokens": n, "status": "error: " + str(e)[:200]}
        row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("ROW " + json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "reader_length_bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--lengths", default="", help="measure only these lengths (comma-separated) of each family")
    ap.add_argument("--tiny", action="store_true", help="2 layers, hidden 64, lengths up to 1024: a quick check")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "family_speed.json"))
    ap.add_argument("--child", nargs=3, metavar=("FAMILY", "DIR", "LENGTHS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        family, directory, lengths = args.child
        hf_child(family, directory, [int(x) for x in lengths.split(",")], args.threads, args.reps)
        return
    import torch
    import transformers
    size = TINY if args.tiny else SIZE
    results = {"what": "QA forward (B=1), longqa vs transformers on the same random checkpoint, CPU",
               "threads": args.threads, "reps": args.reps, "size": size, "transformers": transformers.__version__,
               "torch": torch.__version__, "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0]
               .strip(" :\t"), "families": {}}
    work = tempfile.mkdtemp(prefix="family_speed_")
    for family in args.families.split(","):
        lengths, max_positions = FAMILIES[family]
        if args.tiny:
            lengths = [n for n in lengths if n <= 1024] or lengths[:1]
        if args.lengths:
            lengths = [int(x) for x in args.lengths.split(",")]
        directory = os.path.join(work, family)
        save_model(family, directory, size, max_positions)
        child = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--reps", str(args.reps),
                                "--child", family, directory, ",".join(map(str, lengths))],
                               capture_output=True, text=True, check=True)
        hf_rows = [json.loads(line[4:]) for line in child.stdout.splitlines() if line.startswith("ROW ")]
        ours_json = os.path.join(work, family + ".json")
        subprocess.run([args.bench, "--model", directory, "--mode", "forward", "--lengths", ",".join(map(str, lengths)),
                        "--threads", str(args.threads), "--reps", str(args.reps), "--out", ours_json],
                       check=True, capture_output=True, text=True)
        ours_rows = json.load(open(ours_json))["rows"]
        rows = []
        for hf, ours in zip(hf_rows, ours_rows):
            row = {"tokens": hf["tokens"], "longqa_ms": ours.get("median_ms"), "longqa_peak_rss_mib": ours.get("peak_rss_mib"),
                   "transformers_ms": hf.get("median_ms"), "transformers_peak_rss_mib": hf.get("peak_rss_mib"),
                   "longqa_status": ours["status"], "transformers_status": hf["status"]}
            if row["longqa_ms"] and row["transformers_ms"]:
                row["speedup"] = row["transformers_ms"] / row["longqa_ms"]
            rows.append(row)
            print(f"{family:12s} {row['tokens']:6d} tokens  longqa {row['longqa_ms'] or 0:9.1f} ms "
                  f"{row['longqa_peak_rss_mib'] or 0:7.0f} MiB   transformers {row['transformers_ms'] or 0:9.1f} ms "
                  f"{row['transformers_peak_rss_mib'] or 0:7.0f} MiB   x{row.get('speedup', 0):.2f}", flush=True)
        results["families"][family] = rows
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
