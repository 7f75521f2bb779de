#!/usr/bin/env python3
"""The web page in a real browser: headless Chromium from Debian, driven by Playwright from
PyPI (pointed at the system browser: nothing is downloaded), against a real `longqa serve` on
loopback with API keys and a small index of tiny random models.

Checks: the page asks for a key on the first 401 and then works; ask a question — every
highlighted answer equals the answer's text and the document's code points at the API's
begin_char/end_char, and "open the document" shows the whole document scrolled to it; add a
document through the page and find it by a question; delete it; read-only mode with a Korean
document (with emoji) — the highlights are the API's offsets exactly; an API error is shown;
a narrow screen keeps every control usable. Screenshots (web-*.png) are written to --shots.

usage: python tests/web/test_page.py [--longqa build/cli/longqa] [--shots DIR] [--reader DIR --encoder DIR]
The README's screenshots: --reader models/default-en --encoder "$(bash scripts/minilm_dir.sh)" --shots web/screenshots
Exit 0 when all pass, 1 on a failed check, 77 (skipped) when Chromium or Playwright is missing.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from serve_harness import DEFAULT_LONGQA, Server, tiny_models  # noqa: E402

KEY = "page-test-key-0123456789abcdef"
KOREAN = ("서울은 대한민국의 수도이다. 😀 한강이 도시를 가로지르며 흐른다. 인구는 약 천만 명이고, "
          "경복궁과 남산타워가 유명하다. 🌸 봄에는 벚꽃이 핀다. Seoul is the capital of South Korea.")
CORPUS = [
    {"id": "broncos", "title": "Super Bowl 50",
     "text": "Super Bowl 50 was an American football game. The Denver Broncos defeated the Carolina Panthers "
             "24 to 10 and earned their third Super Bowl title. The game was played at Levi's Stadium. " * 3},
    {"id": "seoul", "title": "서울", "text": KOREAN * 2},
    {"id": "rivers", "title": "Rivers", "text": "The Nile and the Amazon are the longest rivers. Rivers carry water to the sea. " * 4},
]

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def code_point_slice(text, begin, end):
    return "".join(list(text)[begin:end])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--shots", default=os.path.join(ROOT, "build", "web-screenshots"))
    ap.add_argument("--reader", help="reader model (default: a tiny random one; the README's screenshots: models/default-en)")
    ap.add_argument("--encoder", help="the index's text encoder (default: a tiny random one)")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: Playwright is not installed (pip install playwright)")
        return 77
    if not os.path.exists(args.chromium):
        print("skipped: no Chromium at " + args.chromium + " (apt-get install chromium)")
        return 77
    os.makedirs(args.shots, exist_ok=True)
    work = tempfile.mkdtemp(prefix="longqa-web-")
    reader, encoder = tiny_models(args.longqa, work)
    reader, encoder = args.reader or reader, args.encoder or encoder
    server = Server(args.longqa, ["--reader", reader, "--index", os.path.join(work, "index"), "--encoder", encoder,
                                  "--api-keys", "page admin,read,write " + KEY], os.path.join(work, "serve.log"))
    base = f"http://127.0.0.1:{server.port}"
    import urllib.request

    def api(method, path, body=None):
        req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    status, _ = api("POST", "/v1/documents", {"documents": CORPUS})
    check(status == 200, "the corpus is indexed through the API")
    texts = {d["id"]: d["text"] for d in CORPUS}

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            console_errors = []
            # Errors the page's script made (the browser also logs each non-2xx answer, which the
            # test provokes on purpose: those are not script errors).
            page.on("console", lambda m: console_errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            external = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
            page.goto(base + "/")
            check(page.title() == "longqa", "GET / serves the page")

            # Ask without a key: the 401 opens the key dialog; with the key the answers come.
            page.fill("#ask-question", "Who defeated the Carolina Panthers?")
            page.click("#ask-form button[type=submit]")
            page.wait_for_selector("#key-dialog[open]")
            check("API key" in page.inner_text("#key-why"), "a 401 asks for an API key: " + page.inner_text("#key-why")[:80])
            check(page.is_visible("#error"), "the 401 is shown as a message")
            page.fill("#key-input", KEY)
            page.click("#key-form button[value=save]")
            check(page.inner_text("#key-button") == "API key: set", "the key is kept")
            page.click("#ask-form button[type=submit]")
            page.wait_for_selector("#ask-results:not([hidden]) li.answer")
            answers = page.query_selector_all("#ask-answers li.answer")
            check(len(answers) >= 1, f"{len(answers)} answers listed")
            for i, li in enumerate(answers):
                shown = li.query_selector(".answer-text").inner_text()
                mark = li.query_selector("mark")
                begin, end = int(li.get_attribute("data-begin")), int(li.get_attribute("data-end"))
                doc_id = li.query_selector("a.open-document").get_attribute("data-document")
                expected = code_point_slice(texts[doc_id], begin, end)
                check(mark is not None and mark.inner_text() == expected == shown,
                      f"answer {i + 1}: the highlight '{mark.inner_text() if mark else None}' is the document's [{begin}, {end}) and the answer")
            check(page.query_selector_all("#ask-documents li") != [], "the retrieved documents are listed")
            check("total" in page.inner_text("#ask-timings"), "stage timings shown: " + page.inner_text("#ask-timings"))
            page.screenshot(path=os.path.join(args.shots, "web-ask.png"), full_page=True)

            # Open the first answer's document: the whole text, the answer highlighted in view.
            first = answers[0]
            begin, end = int(first.get_attribute("data-begin")), int(first.get_attribute("data-end"))
            doc_id = first.query_selector("a.open-document").get_attribute("data-document")
            first.query_selector("a.open-document").click()
            page.wait_for_selector("#doc-dialog[open] #answer-in-document")
            check(page.inner_text("#doc-dialog-body") == texts[doc_id], "the dialog holds the whole document")
            check(page.inner_text("#answer-in-document") == code_point_slice(texts[doc_id], begin, end),
                  "the document view highlights the answer's offsets")
            in_view = page.evaluate("""() => { const m = document.getElementById('answer-in-document').getBoundingClientRect();
                                               const b = document.getElementById('doc-dialog-body').getBoundingClientRect();
                                               return m.top >= b.top && m.bottom <= b.bottom; }""")
            check(in_view, "the document is scrolled to the answer")
            page.screenshot(path=os.path.join(args.shots, "web-document.png"))
            page.click("#doc-dialog-close")

            # Add a document through the page, find it by a question, delete it.
            page.click(".tab[data-tab=docs]")
            page.wait_for_selector("#docs-counts:has-text('documents')")
            check("3 documents" in page.inner_text("#docs-counts"), "index counts: " + page.inner_text("#docs-counts"))
            page.fill("#add-id", "zebra-note")
            page.fill("#add-title", "Zebras")
            page.fill("#add-text", "Zebras have black and white stripes. The quagga was a zebra that lived in South Africa. " * 3)
            page.click("#add-form button[type=submit]")
            page.wait_for_selector("#add-result:has-text('Added')")
            check("zebra-note" in page.inner_text("#add-result"), "added through the page: " + page.inner_text("#add-result"))
            page.wait_for_selector("#docs-counts:has-text('4 documents')")
            check("4 documents" in page.inner_text("#docs-counts"), "the counts follow: " + page.inner_text("#docs-counts"))
            page.screenshot(path=os.path.join(args.shots, "web-documents.png"), full_page=True)
            page.click(".tab[data-tab=ask]")
            page.fill("#ask-question", "Which zebra lived in South Africa, the quagga?")
            page.click("#ask-form button[type=submit]")
            page.wait_for_selector("#ask-documents li")
            page.wait_for_selector("#busy", state="hidden")
            found = page.inner_text("#ask-documents")
            check("zebra-note" in found, "the added document is found by a question")
            page.click(".tab[data-tab=docs]")
            page.fill("#view-id", "zebra-note")
            page.once("dialog", lambda d: d.accept())
            page.click("#delete-button")
            page.wait_for_selector("#view-result:has-text('Deleted')")
            check(api("GET", "/v1/documents/zebra-note")[0] == 404, "deleted through the page: the API no longer has it")
            page.click("#view-form button[type=submit]")
            page.wait_for_selector("#error:not([hidden])")
            check("document_not_found" in page.inner_text("#error"), "an API error is shown: " + page.inner_text("#error"))

            # Read-only mode with a Korean document.
            page.click(".tab[data-tab=read]")
            page.fill("#read-context", KOREAN)
            page.fill("#read-question", "대한민국의 수도는 어디인가?")
            page.click("#read-form button[type=submit]")
            page.wait_for_selector("#read-results:not([hidden]) #read-document mark")
            status, read = api("POST", "/v1/read", {"question": "대한민국의 수도는 어디인가?", "context": KOREAN, "top_k_answers": 5})
            marks = page.query_selector_all("#read-document mark")
            drawn = {m.get_attribute("id"): m.inner_text() for m in marks}
            for i, a in enumerate(read["answers"]):
                if f"read-answer-{i}" in drawn:
                    check(drawn[f"read-answer-{i}"] == code_point_slice(KOREAN, a["begin_char"], a["end_char"]) == a["text"],
                          f"Korean answer {i + 1}: highlight '{drawn[f'read-answer-{i}']}' = the API's offsets")
            check(page.inner_text("#read-document") == KOREAN, "the Korean document is shown whole, emoji included")
            check(page.query_selector("#read-document mark.best") is not None, "the best answer is marked as such")
            page.screenshot(path=os.path.join(args.shots, "web-read-korean.png"), full_page=True)

            # A narrow screen: nothing wider than the viewport, every control reachable by keyboard.
            page.set_viewport_size({"width": 380, "height": 800})
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
            check(not overflow, "no horizontal overflow at 380 px")
            page.keyboard.press("Tab")
            check(page.evaluate("document.activeElement !== document.body"), "the keyboard reaches the controls")
            page.screenshot(path=os.path.join(args.shots, "web-narrow.png"), full_page=True)
            check(not external, "nothing fetched from elsewhere: " + ", ".join(external[:3]))
            check(not console_errors, "no script errors: " + "; ".join(console_errors[:3]))
            browser.close()
    except Exception:
        traceback.print_exc()
        failures.append("exception")
    finally:
        server.stop()
    print(f"{len(failures)} failure(s); screenshots in {args.shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
