// The longqa page: ask the index, read one document, manage documents — all through the
// HTTP API v1 of the server that serves this file. No framework, no network beyond it.
"use strict";

const $ = (id) => document.getElementById(id);
let apiKey = sessionStorage.getItem("longqa-api-key") || "";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- the API -----------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "network", "The server could not be reached (" + e.message + ").");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: "http_" + response.status, message: text || response.statusText };
    if (response.status === 401) openKeyDialog(error.message);
    throw new ApiError(response.status, error.code, error.message + " (" + response.status + " " + error.code + ")");
  }
  return data;
}

const documentCache = new Map();
async function fetchDocument(id) {
  if (!documentCache.has(id)) documentCache.set(id, api("GET", "/v1/documents/" + encodeURIComponent(id)));
  try {
    return await documentCache.get(id);
  } catch (e) {
    documentCache.delete(id);
    throw e;
  }
}

// ---- feedback ----------------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}
function clearError() {
  $("error").hidden = true;
}

// Runs `work` with the form's buttons disabled and a line saying what is going on, with the
// seconds it has taken (a long document can take a while on a CPU).
async function busy(form, label, work) {
  clearError();
  const line = $("busy");
  const buttons = form ? [...form.querySelectorAll("button")] : [];
  buttons.forEach((b) => (b.disabled = true));
  const start = performance.now();
  const tick = () => (line.textContent = label + "… " + ((performance.now() - start) / 1000).toFixed(0) + " s");
  tick();
  line.hidden = false;
  document.querySelector("main").setAttribute("aria-busy", "true");
  const timer = setInterval(tick, 500);
  try {
    return await work();
  } catch (e) {
    showError(e.message);
    return undefined;
  } finally {
    clearInterval(timer);
    line.hidden = true;
    document.querySelector("main").removeAttribute("aria-busy");
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---- text and highlights -------------------------------------------------------------------

// The API's begin_char/end_char count Unicode code points; JavaScript strings count UTF-16
// units. Array.from splits by code point, so slices are exact for Korean and emoji alike.
function codePoints(text) {
  return Array.from(text);
}

// Fills `container` with `points` (code points) from `from` to `to`, the `spans`
// ({begin, end, cls, id}, code points) wrapped in <mark>; a span overlapping one drawn
// before it is skipped (n-best answers often overlap the best one).
function renderMarked(container, points, spans, from = 0, to = points.length) {
  container.replaceChildren();
  const drawn = [];
  for (const s of spans) {
    if (s.begin < from || s.end > to || s.end <= s.begin) continue;
    if (drawn.some((d) => s.begin < d.end && d.begin < s.end)) continue;
    drawn.push(s);
  }
  drawn.sort((a, b) => a.begin - b.begin);
  let at = from;
  for (const s of drawn) {
    if (s.begin > at) container.append(points.slice(at, s.begin).join(""));
    const mark = document.createElement("mark");
    mark.textContent = points.slice(s.begin, s.end).join("");
    if (s.cls) mark.className = s.cls;
    if (s.id) mark.id = s.id;
    container.append(mark);
    at = s.end;
  }
  if (to > at) container.append(points.slice(at, to).join(""));
}

// A passage of about `radius` code points either side of the answer, cut at spaces.
function passageAround(points, begin, end, radius = 220) {
  let from = Math.max(0, begin - radius), to = Math.min(points.length, end + radius);
  while (from > 0 && from < begin && !/\s/.test(points[from - 1])) from++;
  while (to < points.length && to > end && !/\s/.test(points[to])) to--;
  return [from, to];
}

function element(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function timingsText(t) {
  return Object.entries(t || {})
    .map(([stage, ms]) => stage + " " + Math.round(ms) + " ms")
    .join(" · ");
}

// ---- the whole-document dialog -------------------------------------------------------------

function openDocument(title, text, spans, focusId) {
  $("doc-dialog-title").textContent = title;
  renderMarked($("doc-dialog-body"), codePoints(text), spans);
  const dialog = $("doc-dialog");
  if (!dialog.open) dialog.showModal();
  const target = focusId ? document.getElementById(focusId) : null;
  if (target) target.scrollIntoView({ block: "center" });
  $("doc-dialog-body").focus({ preventScroll: true });
}

// ---- ask -------------------------------------------------------------------------------------

async function ask(event) {
  event.preventDefault();
  const question = $("ask-question").value.trim();
  if (!question) return;
  const result = await busy(event.target, "Retrieving and reading", async () => {
    const data = await api("POST", "/v1/ask", { question, top_k_documents: Number($("ask-k").value), top_k_answers: 5 });
    const texts = new Map();
    for (const a of data.answers) if (!a.no_answer && !texts.has(a.document_id)) texts.set(a.document_id, null);
    // A document deleted meanwhile loses its highlight, not the other answers.
    await Promise.allSettled([...texts.keys()].map(async (id) => texts.set(id, (await fetchDocument(id)).text)));
    return { data, texts };
  });
  if (!result) return;
  const { data, texts } = result;
  const answers = $("ask-answers");
  answers.replaceChildren();
  if (data.answers.length === 0) answers.append(element("li", {}, "No answer: the retriever found no document."));
  data.answers.forEach((a, i) => {
    if (a.no_answer) {
      answers.append(element("li", {}, element("span", { class: "answer-text" }, "No answer"), " ",
                             element("span", { class: "score" }, "score " + a.score.toFixed(2))));
      return;
    }
    if (texts.get(a.document_id) === null) {
      answers.append(element("li", { class: "answer" }, element("span", { class: "answer-text" }, a.text), " ",
                             element("span", { class: "meta" }, "(its document " + a.document_id + " could not be fetched)")));
      return;
    }
    const points = codePoints(texts.get(a.document_id));
    const [from, to] = passageAround(points, a.begin_char, a.end_char);
    const passage = element("p", { class: "passage" });
    renderMarked(passage, points, [{ begin: a.begin_char, end: a.end_char, cls: i === 0 ? "best" : "" }], from, to);
    if (from > 0) passage.prepend("… ");
    if (to < points.length) passage.append(" …");
    const open = element("a", {
      href: "#", class: "open-document", "data-document": a.document_id,
      onclick: (e) => {
        e.preventDefault();
        openDocument(a.title || a.document_id, texts.get(a.document_id),
                     [{ begin: a.begin_char, end: a.end_char, cls: "best", id: "answer-in-document" }], "answer-in-document");
      },
    }, "open the document at this answer");
    answers.append(element("li", { class: "answer", "data-begin": a.begin_char, "data-end": a.end_char },
      element("div", { class: "answer-head" },
        element("span", { class: "answer-text" }, a.text),
        element("span", { class: "score" }, "score " + a.score.toFixed(2)),
        element("span", { class: "meta" }, (a.title || a.document_id) + " (document " + (a.document_rank + 1) + ")")),
      passage, open));
  });
  const documents = $("ask-documents");
  documents.replaceChildren();
  for (const d of data.documents) {
    const best = d.passages && d.passages[0];
    documents.append(element("li", {},
      element("div", { class: "answer-head" }, element("strong", {}, d.title || d.id),
        element("span", { class: "score" }, "score " + d.score.toFixed(4)), element("span", { class: "meta" }, d.id)),
      best ? element("p", { class: "passage" }, best.text) : ""));
  }
  $("ask-timings").textContent = "tokens read " + data.tokens + " · " + timingsText(data.timings_ms);
  $("ask-results").hidden = false;
}

// ---- read one document -------------------------------------------------------------------------

async function readDocument(event) {
  event.preventDefault();
  const context = $("read-context").value, question = $("read-question").value.trim();
  if (!context.trim() || !question) return;
  const data = await busy(event.target, "Reading the document",
                          () => api("POST", "/v1/read", { question, context, top_k_answers: 5 }));
  if (!data) return;
  const points = codePoints(context);
  // Each answer's mark is named by its rank in data.answers, the same index its button uses.
  const firstReal = data.answers.findIndex((a) => !a.no_answer);
  const spans = data.answers
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => !a.no_answer)
    .map(({ a, i }) => ({ begin: a.begin_char, end: a.end_char, cls: i === firstReal ? "best" : "", id: "read-answer-" + i }));
  renderMarked($("read-document"), points, spans);
  const list = $("read-answers");
  list.replaceChildren();
  data.answers.forEach((a, i) => {
    list.append(element("li", { class: "answer", "data-begin": a.begin_char, "data-end": a.end_char },
      element("div", { class: "answer-head" },
        element("span", { class: "answer-text" }, a.no_answer ? "No answer" : a.text),
        element("span", { class: "score" }, "score " + a.score.toFixed(2)),
        a.no_answer ? "" : element("button", {
          type: "button", class: "show-answer",
          onclick: () => {
            const mark = document.getElementById("read-answer-" + i);
            if (mark) mark.scrollIntoView({ block: "center" });
            else showError("This answer overlaps a better one, which is the one highlighted.");
          },
        }, "show in the document"))));
  });
  $("read-timings").textContent = "tokens read " + data.tokens + " · " + timingsText(data.timings_ms);
  $("read-results").hidden = false;
}

// Text of a file for the API: HTML becomes its visible text; the rest is read as it is.
async function fileText(file) {
  const raw = await file.text();
  if (!/\.html?$/i.test(file.name)) return { title: "", text: raw };
  const page = new DOMParser().parseFromString(raw, "text/html");
  page.querySelectorAll("script, style, noscript, template").forEach((e) => e.remove());
  return { title: page.title || "", text: (page.body ? page.body.textContent : "").replace(/\n{3,}/g, "\n\n").trim() };
}

async function loadReadFile() {
  const file = $("read-file").files[0];
  if (file) $("read-context").value = (await fileText(file)).text;
}

// ---- documents -----------------------------------------------------------------------------------

function slug(text) {
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "").slice(0, 80) || "document";
}

async function documentsFromForm() {
  const documents = [];
  for (const file of $("add-file").files) {
    if (/\.jsonl$/i.test(file.name)) {
      (await file.text()).split("\n").forEach((line, i) => {
        if (!line.trim()) return;
        let record;
        try {
          record = JSON.parse(line);
        } catch (e) {
          throw new Error(file.name + ":" + (i + 1) + ": not JSON (" + e.message + ")");
        }
        if (typeof record.text !== "string" || !record.text) throw new Error(file.name + ":" + (i + 1) + ": no \"text\"");
        documents.push({ id: String(record.id ?? file.name.replace(/\.[^.]*$/, "") + "-" + (i + 1)),
                         title: String(record.title ?? ""), text: record.text,
                         ...(record.metadata && typeof record.metadata === "object" ? { metadata: record.metadata } : {}) });
      });
    } else {
      const { title, text } = await fileText(file);
      const firstLine = text.split("\n").find((l) => l.trim()) || "";
      documents.push({ id: file.name.replace(/\.[^.]*$/, ""), title: title || firstLine.replace(/^#+\s*/, "").slice(0, 200), text });
    }
  }
  const text = $("add-text").value;
  if (text.trim()) {
    const title = $("add-title").value.trim();
    documents.push({ id: $("add-id").value.trim() || slug(title || text.slice(0, 40)), title, text });
  }
  return documents;
}

async function addDocuments(event) {
  event.preventDefault();
  const form = event.target;
  const result = await busy(form, "Adding", async () => {
    const documents = await documentsFromForm();
    if (documents.length === 0) throw new Error("Nothing to add: paste a text or choose a file.");
    return api("POST", "/v1/documents", { documents });
  });
  if (!result) return;
  for (const id of result.ids) documentCache.delete(id);
  $("add-result").textContent = "Added " + result.ids.join(", ") + " (" + result.passages + " passages" +
    (result.replaced ? ", " + result.replaced + " replaced" : "") + ").";
  form.reset();
  refreshCounts();
}

async function viewDocument(event) {
  event.preventDefault();
  const id = $("view-id").value.trim();
  const doc = await busy(event.target, "Fetching", () => fetchDocument(id));
  if (!doc) return;
  $("view-result").textContent = "";
  openDocument(doc.title || doc.id, doc.text, []);
}

async function deleteDocument() {
  const id = $("view-id").value.trim();
  if (!id) return showError("Type the id of the document to delete.");
  if (!window.confirm("Delete the document '" + id + "' from the index?")) return;
  const done = await busy($("view-form"), "Deleting", () => api("DELETE", "/v1/documents/" + encodeURIComponent(id)));
  if (!done) return;
  documentCache.delete(id);
  $("view-result").textContent = "Deleted " + id + ".";
  refreshCounts();
}

async function refreshCounts() {
  try {
    const info = await api("GET", "/v1/info");
    $("docs-counts").textContent = info.index
      ? "Index: " + info.index.documents + " documents, " + info.index.passages + " passages (" + info.index.retrieval_mode + ")"
      : "No index is loaded: start the server with --index DIR to add documents (reading one document works without).";
  } catch (e) {
    $("docs-counts").textContent = e.status === 403 ? "Index counts need a key with the admin scope." : "Index counts: " + e.message;
  }
}

// ---- the API key ---------------------------------------------------------------------------------

function showKeyState() {
  $("key-button").textContent = "API key: " + (apiKey ? "set" : "none");
}

function openKeyDialog(why) {
  $("key-why").textContent = why
    ? why + " Enter a key; it is kept in this tab only."
    : "This server may require an API key (ask its operator). It is kept in this tab only.";
  $("key-input").value = apiKey;
  const dialog = $("key-dialog");
  dialog.returnValue = "";  // Esc then keeps the key as it was
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

function closeKeyDialog() {
  const dialog = $("key-dialog");
  if (dialog.returnValue === "clear") apiKey = "";
  else if (dialog.returnValue === "save") apiKey = $("key-input").value.trim();
  if (apiKey) sessionStorage.setItem("longqa-api-key", apiKey);
  else sessionStorage.removeItem("longqa-api-key");
  documentCache.clear();
  showKeyState();
}

// ---- tabs ----------------------------------------------------------------------------------------

function selectTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== "tab-" + name;
  if (name === "docs") refreshCounts();
  history.replaceState(null, "", "#" + name);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  $("ask-form").addEventListener("submit", ask);
  $("read-form").addEventListener("submit", readDocument);
  $("read-file").addEventListener("change", loadReadFile);
  $("add-form").addEventListener("submit", addDocuments);
  $("view-form").addEventListener("submit", viewDocument);
  $("delete-button").addEventListener("click", deleteDocument);
  $("doc-dialog-close").addEventListener("click", () => $("doc-dialog").close());
  $("key-button").addEventListener("click", () => openKeyDialog(""));
  $("key-dialog").addEventListener("close", closeKeyDialog);
  // Ctrl+Enter (or Cmd+Enter) in a question box submits its form.
  for (const box of document.querySelectorAll("textarea"))
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) box.form.requestSubmit();
    });
  showKeyState();
  const wanted = location.hash.slice(1);
  selectTab(["ask", "read", "docs"].includes(wanted) ? wanted : "ask");
});
