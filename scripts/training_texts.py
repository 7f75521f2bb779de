#!/usr/bin/env python3
"""Writes the raw text of some articles of a SQuAD-format file as a JSONL corpus, for the
trainers that read raw text (`longqa distill`, `pretrain`, `vocab subset`, cloze data).

    python3 scripts/training_texts.py DATASET.json BEGIN:END OUT.jsonl [--questions] [--paragraphs]

Each article in [BEGIN, END) becomes one document, its paragraphs joined by blank lines
(with --paragraphs each paragraph is a document of its own, e.g. as contexts of cloze
questions); with --questions its questions follow as one more document. Only the articles given are
read, so a model's held-out articles stay unseen. The output is derived from the dataset:
keep it out of the repository (scripts/train_default_models.sh writes it under build/).
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("articles", help="BEGIN:END (either may be empty)")
    ap.add_argument("out")
    ap.add_argument("--questions", action="store_true", help="add each article's questions as a document")
    ap.add_argument("--paragraphs", action="store_true", help="one document per paragraph instead of per article")
    args = ap.parse_args()
    begin, _, end = args.articles.partition(":")
    with open(args.dataset, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    chosen = articles[int(begin or 0):int(end) if end else len(articles)]
    if not chosen:
        sys.exit(f"{args.dataset}: no articles in {args.articles}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        for i, a in enumerate(chosen):
            title = a.get("title", f"article {i}")
            texts = [p["context"] for p in a["paragraphs"]]
            if not args.paragraphs:
                texts = ["\n\n".join(texts)]
            for k, text in enumerate(texts):
                doc_id = f"{title}#{k}" if args.paragraphs else title
                f.write(json.dumps({"id": doc_id, "title": title, "text": text}, ensure_ascii=False) + "\n")
            if args.questions:
                questions = "\n".join(q["question"] for p in a["paragraphs"] for q in p["qas"])
                f.write(json.dumps({"id": f"{title}:questions", "title": title, "text": questions}, ensure_ascii=False) + "\n")
    os.replace(args.out + ".tmp", args.out)
    print(f"{args.out}: {len(chosen)} articles")


if __name__ == "__main__":
    main()
