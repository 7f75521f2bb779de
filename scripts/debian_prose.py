#!/usr/bin/env python3
"""Writes English prose from the HTML manuals that Debian packages install as a JSONL corpus
for the trainers that read raw text (`longqa distill`, `pretrain`): the distillation targets
are the teacher's hidden states, so any English prose serves and no labels are needed.

    python3 scripts/debian_prose.py OUT.jsonl [--max-chars N] [ROOT ...]

ROOTs default to the manuals of debian-handbook, debian-reference-en and python3.11-doc
(scripts/train_default_models.sh installs them with apt-get). Only paragraph text (<p>,
<li>, <dd>) is kept; code blocks (<pre>), navigation and tables are dropped, and so is
a paragraph that is mostly symbols or shorter than 200 characters. Paragraphs of one page,
in order, make documents of about 1,500 characters (a few hundred tokens), so that each
text the trainers take is prose in its own order. Nothing here goes into the repository.
"""
import argparse
import hashlib
import html.parser
import json
import os
import re
import sys

DEFAULT_ROOTS = [
    "/usr/share/doc/debian-handbook/html/en-US",
    "/usr/share/debian-reference",
    "/usr/share/doc/python3.11/html",
]
KEEP = {"p", "li", "dd"}
SKIP = {"pre", "script", "style", "table", "nav", "head"}


class ParagraphParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs, self.skip, self.keep, self.text = [], 0, 0, []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
        elif tag in KEEP:
            if self.keep and self.text:  # a list inside a paragraph: end the outer one here
                self.flush()
            self.keep += 1

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in KEEP and self.keep:
            self.keep -= 1
            self.flush()

    def handle_data(self, data):
        if self.keep and not self.skip:
            self.text.append(data)

    def flush(self):
        text = re.sub(r"\s+", " ", "".join(self.text)).strip()
        self.text = []
        if len(text) >= 200 and prose_like(text):
            self.paragraphs.append(text)


def prose_like(text):
    """Mostly words of letters, few symbols: sentences, not commands or listings."""
    words = text.split()
    alphabetic = sum(1 for w in words if re.fullmatch(r"[A-Za-z][a-z'’-]*[.,;:!?)]?", w))
    return len(words) >= 30 and alphabetic / len(words) >= 0.7


def html_files(root):
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith((".html", ".htm")) and "genindex" not in name:
                yield os.path.join(dirpath, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("roots", nargs="*", default=DEFAULT_ROOTS)
    ap.add_argument("--max-chars", type=int, default=20_000_000, help="stop after this much text")
    ap.add_argument("--doc-chars", type=int, default=1500, help="about this much text per document")
    args = ap.parse_args()
    missing = [r for r in args.roots if not os.path.isdir(r)]
    if missing:
        sys.exit("not installed: " + ", ".join(missing) +
                 " (apt-get install debian-handbook debian-reference-en python3.11-doc)")
    seen, total, docs = set(), 0, 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as out:
        for root in args.roots:
            for path in html_files(root):
                parser = ParagraphParser()
                with open(path, encoding="utf-8", errors="replace") as f:
                    parser.feed(f.read())
                chunk = []
                for paragraph in parser.paragraphs + [None]:
                    if paragraph is not None:
                        digest = hashlib.sha1(paragraph.encode()).digest()
                        if digest in seen:
                            continue
                        seen.add(digest)
                        chunk.append(paragraph)
                    size = sum(len(p) for p in chunk)
                    if chunk and (paragraph is None or size >= args.doc_chars):
                        text = "\n\n".join(chunk)
                        out.write(json.dumps({"id": f"{os.path.relpath(path, root)}#{docs}", "title": root,
                                              "text": text}, ensure_ascii=False) + "\n")
                        docs, total, chunk = docs + 1, total + len(text), []
                if total >= args.max_chars:
                    break
            if total >= args.max_chars:
                break
    os.replace(args.out + ".tmp", args.out)
    print(f"{args.out}: {docs} documents, {total / 1e6:.1f} M characters from {', '.join(args.roots)}")


if __name__ == "__main__":
    main()
