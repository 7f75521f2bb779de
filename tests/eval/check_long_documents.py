#!/usr/bin/python3
"""Checks bench/make_long_documents.py: on a hand-made set (multi-byte text, several
paragraphs, answers in the last one) and, when --data has them, on the public SQuAD 1.1 and
KorQuAD 1.0 dev halves, every answer of the built set slices its joined context to its text,
ids and questions are kept, and the official script gives gold answers EM 100 / F1 100 on it.

Exit status: 0 passed, 1 failed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDER = os.path.join(HERE, "..", "..", "bench", "make_long_documents.py")

FIXTURE = {
    "version": "1.1",
    "data": [{
        "title": "서울",
        "paragraphs": [
            {"context": "서울은 대한민국의 수도이다.", "qas": [
                {"id": "k1", "question": "수도는?", "answers": [{"text": "서울", "answer_start": 0}]}]},
            {"context": "Seoul has 9.7 million people — ☃ 😀.", "qas": [
                {"id": "e1", "question": "How many?", "answers": [{"text": "9.7 million", "answer_start": 10}]},
                {"id": "e2", "question": "Emoji?", "answers": [{"text": "😀", "answer_start": 33}]}]},
        ]}, {
        "title": "B",
        "paragraphs": [{"context": "Only one paragraph.", "qas": [
            {"id": "b1", "question": "How many?", "answers": [{"text": "one", "answer_start": 5}]}]}]},
    ]}


def run_builder(source, target):
    subprocess.run([sys.executable, BUILDER, source, target], check=True, stdout=subprocess.DEVNULL)
    with open(target, encoding="utf-8") as f:
        return json.load(f)


def questions(data):
    return {q["id"]: (q["question"], [a["text"] for a in q["answers"]])
            for a in data["data"] for p in a["paragraphs"] for q in p["qas"]}


def check_set(source, built, failures, name):
    with open(source, encoding="utf-8") as f:
        original = json.load(f)
    if len(built["data"]) != len(original["data"]):
        failures.append(f"{name}: {len(built['data'])} articles, expected {len(original['data'])}")
    for a, (article_in, article_out) in enumerate(zip(original["data"], built["data"])):
        if len(article_out["paragraphs"]) != 1:
            failures.append(f"{name}: data[{a}] has {len(article_out['paragraphs'])} paragraphs")
            continue
        joined = "\n\n".join(p["context"] for p in article_in["paragraphs"])
        context = article_out["paragraphs"][0]["context"]
        if context != joined:
            failures.append(f"{name}: data[{a}] context is not the paragraphs joined by blank lines")
        for q in article_out["paragraphs"][0]["qas"]:
            for ans in q["answers"]:
                if context[ans["answer_start"]:ans["answer_start"] + len(ans["text"])] != ans["text"]:
                    failures.append(f"{name}: {q['id']}: answer_start {ans['answer_start']} does not slice '{ans['text']}'")
    if questions(original) != questions(built):
        failures.append(f"{name}: questions or answers changed")


def official_gold_score(script, dataset_path, data, tmp):
    gold = {q["id"]: q["answers"][0]["text"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]}
    predictions = os.path.join(tmp, "gold_predictions.json")
    with open(predictions, "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False)
    out = subprocess.run([sys.executable, script, dataset_path, predictions], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", help="the shared data folder (optional)")
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        fixture = os.path.join(tmp, "fixture.json")
        with open(fixture, "w", encoding="utf-8") as f:
            json.dump(FIXTURE, f, ensure_ascii=False)
        built = run_builder(fixture, os.path.join(tmp, "fixture-long.json"))
        check_set(fixture, built, failures, "fixture")
        # "서울은 대한민국의 수도이다." is 15 code points, then "\n\n": e1 moves from 10 to 27.
        e1 = built["data"][0]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"]
        if e1 != 27:
            failures.append(f"fixture: e1 answer_start {e1}, expected 27")

        sets = [("squad1.1/dev-v1.1_public.json", "squad1.1/evaluate-v1.1.py"),
                ("korquad1/KorQuAD_v1.0_dev_public.json", "korquad1/evaluate-v1.0.py")]
        for data_file, script in sets if args.data else []:
            source = os.path.join(args.data, data_file)
            if not os.path.exists(source):
                continue
            target = os.path.join(tmp, os.path.basename(data_file) + ".long.json")
            built = run_builder(source, target)
            check_set(source, built, failures, data_file)
            score = official_gold_score(os.path.join(args.data, script), target, built, tmp)
            if score.get("exact_match") != 100.0 or score.get("f1") != 100.0:
                failures.append(f"{data_file}: the official script gives gold answers {score} on the built set")
            else:
                print(f"{data_file}: {len(built['data'])} long documents; official script on gold answers: {score}")
    for f in failures[:30]:
        print("FAIL", f)
    print("long-document builder:", "ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
