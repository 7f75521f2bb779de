#!/usr/bin/env python3
"""Builds a long-document QA set from a SQuAD-format file (SQuAD 1.1/2.0, KorQuAD 1.0).

Each article becomes one paragraph whose context is all of the article's paragraphs joined
by a blank line ("\\n\\n", as `longqa eval --unit article` and `longqa index build --unit
article` join them), and every answer_start is shifted by the length, in code points, of
what precedes its paragraph. Questions, ids and answer texts are unchanged, so the official
evaluation scripts score predictions on the built file exactly as on the original. A reader
then reads 2k-15k+ tokens per question instead of ~150.

    python3 bench/make_long_documents.py ../shared/data/squad1.1/dev-v1.1_public.json \\
        build/data/squad1.1-articles.json

The output is a derived copy of the input: keep it out of the repository when the input's
license forbids derivatives (KorQuAD is CC BY-ND) -- build/ is ignored by git.
"""
import argparse
import json
import os
import sys

SEPARATOR = "\n\n"


def join_article(article, where):
    """The article as one paragraph: contexts joined, answer offsets shifted."""
    paragraphs = article.get("paragraphs")
    if not isinstance(paragraphs, list):
        raise ValueError(f"{where}: article has no 'paragraphs' list")
    context, qas = "", []
    for p, paragraph in enumerate(paragraphs):
        text = paragraph.get("context") if isinstance(paragraph, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"{where}.paragraphs[{p}]: no string 'context'")
        if context:
            context += SEPARATOR
        shift = len(context)  # Python str length = code points, SQuAD's answer_start unit
        context += text
        for q in paragraph.get("qas", []):
            q = dict(q)
            for key in ("answers", "plausible_answers"):
                if key in q:
                    q[key] = [dict(a, answer_start=a["answer_start"] + shift) for a in q[key]]
            qas.append(q)
    joined = {k: v for k, v in article.items() if k != "paragraphs"}
    joined["paragraphs"] = [{"context": context, "qas": qas}]
    return joined


def build(data):
    articles = data.get("data")
    if not isinstance(articles, list):
        raise ValueError("not a SQuAD-format file: no top-level 'data' list")
    out = {k: v for k, v in data.items() if k != "data"}
    out["data"] = [join_article(a, f"data[{i}]") for i, a in enumerate(articles)]
    return out


def check(built):
    """Every answer that sliced its paragraph still slices the joined context."""
    bad = 0
    for article in built["data"]:
        for paragraph in article["paragraphs"]:
            c = paragraph["context"]
            for q in paragraph["qas"]:
                for a in q.get("answers", []):
                    bad += c[a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"]
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="SQuAD-format JSON file")
    ap.add_argument("output", help="where to write the long-document set")
    args = ap.parse_args()
    try:
        with open(args.input, encoding="utf-8") as f:
            data = json.load(f)
        built = build(data)
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"{args.input}: {e}")
    original_bad = check(data) if all("paragraphs" in a for a in data["data"]) else 0
    bad = check(built)
    if bad != original_bad:
        sys.exit(f"{args.input}: {bad - original_bad} answers no longer slice their context (a bug in this script)")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(built, f, ensure_ascii=False)
    os.replace(tmp, args.output)
    lengths = sorted(len(a["paragraphs"][0]["context"]) for a in built["data"])
    questions = sum(len(a["paragraphs"][0]["qas"]) for a in built["data"])
    print(f"{args.output}: {len(lengths)} documents, {questions} questions, "
          f"context {lengths[0]}-{lengths[-1]} characters (median {lengths[len(lengths) // 2]})")


if __name__ == "__main__":
    main()
