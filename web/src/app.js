// AudioDAS web app: upload (with the edge check), library, recording. Talks only to API v1.
import { recordPage } from "./live.js";
import { decodeOpening } from "./opening.js";
import { fmtSeconds, h } from "./ui.js";
import { drawWaveform } from "./waveform.js";

const API = "/api/v1";
const $ = (selector, root = document) => root.querySelector(selector);
const main = () => $("#main");
let worker = null;
let topics = [];
let liveTimer = null;
let pageListeners = []; // on window or document for the page shown: removed when it goes

function onPage(target, type, listener, options) {
  target.addEventListener(type, listener, options);
  pageListeners.push([target, type, listener, options]);
}
let liveEvents = null;

// --- Access: one sign-in per browser session ---------------------------------------------------
// A key is exchanged once (POST /session) for an HttpOnly cookie that every tab of this browser
// sends; no script here ever holds it (README, "Access").

const SESSION = `${API}/session`;
const signInLink = () => $('nav a[href="#/key"]');
// Tabs tell each other when this browser signs in or out: the others follow without a refused call.
const tabs = new BroadcastChannel("audiodas-session");
const askedFor = () => `#/key?then=${encodeURIComponent(location.hash || "#/upload")}`;
tabs.addEventListener("message", async ({ data }) => {
  await sessionState();
  if (data === "signed-out" && !location.hash.startsWith("#/key")) location.hash = askedFor();
  if (data === "signed-in" && location.hash.startsWith("#/key")) {
    topics = (await api("/domains")).items;
    location.hash = new URLSearchParams(location.hash.split("?")[1] ?? "").get("then") || "#/upload";
  }
});

// What the server says of this browser: { required, signed_in, key, expires_at }; null offline.
let session = null;
async function sessionState() {
  const answer = await fetch(SESSION).catch(() => null);
  const state = answer?.ok ? await answer.json() : null;
  session = state;
  signInLink().hidden = !state?.required;
  signInLink().textContent = state?.signed_in ? "Signed in" : "Sign in";
  return state;
}

// What a refusal means, in words: the server's own detail follows.
function refusal(status, body) {
  const detail = body?.detail ?? `HTTP ${status}`;
  if (status === 401) {
    if (!location.hash.startsWith("#/key")) location.hash = `#/key?then=${encodeURIComponent(location.hash || "#/upload")}&why=${encodeURIComponent(detail)}`;
    return new Error(`This server needs you to sign in (${detail}).`);
  }
  if (status === 403 && body?.error === "forbidden") return new Error(`Your access key may not do this: ${detail}`);
  return new Error(detail);
}

// Every call of the API (the session cookie goes with it); a refusal thrown as an Error that
// says it in words.
async function request(path, options = {}) {
  const response = await fetch(API + path, options);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw Object.assign(refusal(response.status, body), { code: body?.error });
  }
  return response;
}

async function api(path, options) {
  const response = await request(path, options);
  return response.headers.get("content-type")?.includes("json") ? response.json() : response.text();
}

async function keyPage() {
  const asked = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const then = asked.get("then") || "#/upload";
  const why = asked.get("why");
  const state = await sessionState();
  const input = h("input", { type: "password", id: "api-key", autocomplete: "off", required: true, size: 40 });
  const refused = h("p", { role: "alert", id: "key-refused", hidden: !why }, why ? `Sign in to see that (${why}).` : "");
  const form = h("form", { id: "key-form" },
    h("label", { for: "api-key" }, "Access key "), input, " ", h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // Tried by the server before anything is kept: a wrong key opens no session, and says so.
    const answer = await fetch(SESSION, { method: "POST", headers: { Authorization: `Bearer ${input.value.trim()}` } }).catch(() => null);
    if (!answer?.ok) {
      const body = await answer?.json().catch(() => null);
      refused.textContent = answer ? `This key was not accepted (${body?.detail ?? `HTTP ${answer.status}`}). Check it and try again.` : "The server could not be reached. Try again.";
      refused.hidden = false;
      input.select();
      return;
    }
    input.value = "";
    tabs.postMessage("signed-in");
    await sessionState();
    topics = (await api("/domains")).items;
    location.hash = then;
  });
  const until = state?.expires_at ? new Date(state.expires_at).toLocaleString() : "";
  const who = h("p", { id: "signed-in", hidden: !state?.signed_in },
    state?.signed_in ? `Signed in with the key “${state.key.name}” (${state.key.scope}) until ${until}, or until this browser closes. ` : "",
    h("button", { type: "button", id: "sign-out" }, "Sign out"));
  $("#sign-out", who).addEventListener("click", async () => {
    await fetch(SESSION, { method: "DELETE" });
    tabs.postMessage("signed-out");
    topics = [];
    await keyPage();
  });
  main().replaceChildren(
    h("h1", {}, "Sign in"),
    refused,
    who,
    h("p", {}, "This server is private: sign in with the access key its administrator gave you. ",
      "You then stay signed in, in every tab of this browser, until you close it or sign out."),
    form,
    h("p", { class: "note-line" }, "Administrators make keys on the server with ", h("code", {}, "audiodas keys create"), "."),
  );
  input.focus();
}

async function download(path, name) {
  const response = await request(path);
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: name });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}


function stopLive() {
  clearInterval(liveTimer);
  liveEvents?.close();
  liveTimer = liveEvents = null;
}

// --- Upload ----------------------------------------------------------------------------------

function getWorker() {
  worker ??= new Worker(new URL("/static/dist/edge-worker.js", location.href), { type: "module" });
  return worker;
}

// What the check downloads in a browser that has none of it: the speech model (its manifest)
// and the runtime beside it (the build's list); null when the model is not installed.
async function firstVisitBytes() {
  const [model, runtime] = await Promise.all(
    ["/models/whisper-tiny.en/manifest.json", "/static/dist/runtime.json"].map((url) => fetch(url).then((r) => (r.ok ? r.json() : null))),
  );
  if (!model) return null;
  const sum = (files) => Object.values(files ?? {}).reduce((total, about) => total + about.bytes, 0);
  return sum(model.files) + sum(runtime?.files);
}

function edgeCheck(id, pcm, topic, onProgress) {
  return new Promise((resolve, reject) => {
    const w = getWorker();
    const listen = ({ data }) => {
      if (data.id !== id) return;
      if (data.type === "progress") onProgress(data);
      else {
        w.removeEventListener("message", listen);
        data.type === "error" ? reject(new Error(data.message)) : resolve(data);
      }
    };
    w.addEventListener("message", listen);
    w.postMessage({ id, pcm, topic }, [pcm.buffer]);
  });
}

function uploadWithProgress(file, domain, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file);
    if (domain) form.append("domain", domain);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/recordings`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => (xhr.status === 202 ? resolve(xhr.response) : reject(refusal(xhr.status, xhr.response)));
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(form);
  });
}

const STEPS = { decode: "Reading the opening", vad: "Checking for speech", model: "Loading the speech model", download: "Downloading the speech check (once)", transcribe: "Transcribing the opening", upload: "Uploading" };
const MB = (bytes) => (bytes / 1e6).toFixed(1);

// The card of one file: the check of its opening, then its upload. A file refused in the browser
// can still be sent ("Upload anyway": the server's own topic check applies) or checked again
// against another topic.
function checkAndUpload(file, topicName, list) {
  const status = h("span", { class: "step" }, "Waiting");
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Progress of ${file.name}` });
  const detail = h("p", { class: "detail" });
  const actions = h("p", { class: "actions" });
  const card = h("li", { class: "file-card", "data-state": "working", "data-file": file.name }, h("strong", {}, file.name), " ", status, bar, detail, actions);
  list.append(card);
  const set = (step, fraction, progress = {}) => {
    status.textContent = STEPS[step] ?? step;
    if (step === "download") status.textContent += `: ${MB(progress.bytes)} of ${MB(progress.total)} MB`;
    bar.value = fraction ?? 0;
  };

  async function upload(domain) {
    actions.replaceChildren();
    card.dataset.state = "working";
    try {
      set("upload", 0);
      const recording = await uploadWithProgress(file, domain, (f) => set("upload", f));
      card.dataset.state = "uploaded";
      card.dataset.recordingId = recording.id;
      status.textContent = "Uploaded";
      bar.value = 1;
      detail.append(" ", h("a", { href: `#/recordings/${recording.id}` }, "Open the recording"));
    } catch (error) {
      card.dataset.state = "error";
      status.textContent = "Error";
      detail.textContent = error.message;
    }
  }

  // The check said no, or could not check: the user decides.
  function stopped(state, label, text, domain) {
    card.dataset.state = state;
    status.textContent = label;
    bar.value = 1;
    detail.textContent = text;
    const anyway = h("button", { type: "button", class: "upload-anyway" }, "Upload anyway");
    anyway.addEventListener("click", () => upload(domain));
    const other = h("select", { class: "change-topic", "aria-label": `Another topic for ${file.name}` },
      h("option", { value: "" }, "Change topic…"), h("option", { value: "-" }, "No topic check"),
      topics.filter((t) => t.name !== domain).map((t) => h("option", { value: t.name }, t.label)));
    other.addEventListener("change", () => other.value && check(other.value === "-" ? "" : other.value));
    actions.replaceChildren(anyway, " ", other);
  }

  async function check(domain) {
    actions.replaceChildren();
    card.dataset.state = "working";
    card.dataset.topic = domain;
    detail.textContent = "";
    const topic = topics.find((t) => t.name === domain) ?? null;
    const id = crypto.randomUUID();
    try {
      set("decode", 0);
      const started = performance.now();
      const { pcm } = await decodeOpening(file);
      const opening = { decode_ms: performance.now() - started, opening_s: pcm.length / 16000 };
      const result = await edgeCheck(id, pcm, topic, (p) => set(p.step, p.fraction, p));
      card.dataset.edgeText = result.text ?? "";
      card.dataset.timings = JSON.stringify({ ...opening, ...result.timings, verdict_ms: performance.now() - started });
      if (!result.ok) {
        stopped("rejected", "Rejected", result.reason + (result.text ? ` — heard: “${result.text}”` : ""), domain);
        return;
      }
      detail.textContent = result.modelMissing ? result.reason : result.text ? `Heard: “${result.text}”` : "";
    } catch (error) {
      stopped("error", "Not checked", `${error.message}`, domain);
      return;
    }
    await upload(domain);
  }

  check(topicName);
}

async function uploadPage() {
  const select = h("select", { id: "topic", name: "topic" }, h("option", { value: "" }, "No topic check"), topics.map((t) => h("option", { value: t.name }, t.label)));
  const list = h("ul", { class: "files", "aria-live": "polite" });
  const input = h("input", { type: "file", id: "files", accept: "audio/*", multiple: true });
  const handle = (files) => [...files].forEach((f) => checkAndUpload(f, select.value, list));
  input.addEventListener("change", () => handle(input.files));
  const drop = h("div", { class: "drop", tabindex: 0, role: "button", "aria-label": "Drop audio files here, or press Enter to choose" }, "Drop audio files here, or ", h("label", { for: "files" }, "choose files"));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); handle(e.dataTransfer.files); });
  drop.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && input.click());
  const modelNote = h("p", { class: "note", id: "model-note" });
  firstVisitBytes().then((bytes) => {
    modelNote.textContent = bytes
      ? `Each file's first minute is checked in your browser (speech, then topic) before it is uploaded. The first check downloads ${MB(bytes)} MB once (the speech model and its runtime); later visits download none of it.`
      : "The browser speech model is not installed: files are checked for speech only (run `audiodas models build-web`).";
  });
  main().replaceChildren(
    h("h1", {}, "Upload recordings"),
    modelNote,
    h("label", { for: "topic" }, "Topic "), select,
    h("p", {}, input),
    drop,
    list,
  );
}

// --- Library ---------------------------------------------------------------------------------

// A search hit's passage, its matched words marked.
function passage(match) {
  const parts = [];
  let at = 0;
  for (const [start, end] of match.highlights) {
    parts.push(match.text.slice(at, start), h("mark", {}, match.text.slice(start, end)));
    at = end;
  }
  return [...parts, match.text.slice(at)];
}

function searchForm(onSearch, q = "") {
  const input = h("input", { type: "search", id: "search", name: "q", placeholder: "despair, \"interest rates\"", maxlength: 500, size: 30, value: q });
  const form = h("form", { id: "search-form", role: "search" },
    h("label", { for: "search" }, "Find what was said "), input, " ", h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => { e.preventDefault(); onSearch(input.value.trim()); });
  return form;
}

async function showResults(q, results) {
  stopLive();
  const status = h("p", { id: "search-status", role: "status" });
  results.replaceChildren(status);
  let items;
  try {
    ({ items } = await api(`/recordings?limit=50&q=${encodeURIComponent(q)}`));
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  status.textContent = items.length ? `${items.length} recording(s) say it, best match first.` : "No recording says that.";
  results.append(h("ol", { class: "results", id: "search-results" }, items.map((r) => {
    const at = r.match.start_s;
    const href = `#/recordings/${r.id}` + (at != null ? `?t=${at}` : "");
    return h("li", { "data-id": r.id },
      h("a", { href }, nameOf(r), at != null ? ` at ${fmtSeconds(at)}` : ""),
      h("p", { class: "passage" }, r.match.field === "transcript" ? "" : `${r.match.field}: `, passage(r.match)));
  })));
}

const STATUSES = ["queued", "processing", "done", "failed", "rejected"];
const topicText = (t) => (t ? `${t.expected}: ${t.on_topic ? "on topic" : "off topic"} (${t.score})` : "");

// What users call a recording: its title, else its file's name.
const nameOf = (r) => r.title || r.filename;
const fileStem = (r) => r.title || r.filename.replace(/\.[^.]+$/, "");
const fmtDate = (iso, withTime = false) => new Date(iso).toLocaleString(undefined, withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "long" });
// Kept under legal retention (its archive copy): a delete would be refused until then.
const heldUntil = (r) => (r.held_until && new Date(r.held_until) > Date.now() ? r.held_until : null);
const heldText = (r) => `Kept until ${fmtDate(r.held_until)}`;
const HELD_WHY = "Its archive copy is under legal retention: it cannot be deleted before then.";
// A legal hold: kept whatever the retention says, until an administrator releases it.
const holdText = (r) => `Legal hold: ${r.hold.reason} (since ${fmtDate(r.hold.since)}, by ${r.hold.by})`;
const keptText = (r) => (r.hold ? holdText(r) : heldText(r));
const kept = (r) => Boolean(r.hold || heldUntil(r));

// Why a delete was refused, in words.
function deleteRefusal(error, r) {
  if (error.code === "legal_hold") return `${r.filename} is under a legal hold: ${error.message}`;
  if (error.code === "under_retention") {
    const until = new Date(r.retention_until).toLocaleDateString(undefined, { dateStyle: "long" });
    return `${r.filename} is kept until ${until}: its archive copy is under legal retention, so it cannot be deleted before then.`;
  }
  return `${r.filename} was not deleted: ${error.message}`;
}

// The library's state lives in the URL (#/library?q=…&status=…&sort=…&pages=…), so Back and a
// reload bring back the search, the filter, the order and the page.
const libraryUrl = (state) => {
  const query = new URLSearchParams(Object.entries(state).filter(([, v]) => v));
  return `#/library${query.size ? `?${query}` : ""}`;
};
const SORTS = { newest: "Newest first", oldest: "Oldest first", longest: "Longest first", shortest: "Shortest first", title: "Title, A to Z" };

async function libraryPage(params = new URLSearchParams()) {
  const state = { q: params.get("q") ?? "", status: params.get("status") ?? "", sort: params.get("sort") ?? "", pages: params.get("pages") ?? "" };
  const go = (change) => { location.hash = libraryUrl({ ...state, ...change }); };
  const body = h("tbody");
  const COLUMNS = ["File", "Date", "Status", "Duration", "Speakers", "Summary", "Topic", "Actions"];
  const sorted = { File: ["title"], Date: ["newest", "oldest"], Duration: ["longest", "shortest"] };
  const sort = state.sort in SORTS ? state.sort : "newest";
  const ariaSort = (c) => (sorted[c]?.includes(sort) ? (["oldest", "shortest", "title"].includes(sort) ? "ascending" : "descending") : false);
  const table = h("table", { class: "library" }, h("caption", {}, `Recordings, ${SORTS[sort].toLowerCase()}`), h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col", "aria-sort": ariaSort(c) }, c)))), body);
  const filter = h("select", { id: "status-filter" }, h("option", { value: "" }, "all"), STATUSES.map((st) => h("option", { value: st, selected: st === state.status }, st)));
  const order = h("select", { id: "sort" }, Object.entries(SORTS).map(([value, text]) => h("option", { value, selected: value === sort }, text)));
  const newer = h("button", { type: "button", id: "newer", disabled: true }, "← Newer");
  const older = h("button", { type: "button", id: "older", disabled: true }, "Older →");
  const message = h("p", { id: "library-message", role: "status", "aria-live": "polite" });
  const empty = h("p", { id: "library-empty", class: "note", hidden: true });
  const results = h("div", { id: "results", class: "card" }, h("p", { class: "controls" }, h("label", { for: "status-filter" }, "Status "), filter, " ", h("label", { for: "sort" }, "Order "), order, " ", newer, " ", older), message, empty, table);
  main().replaceChildren(h("h1", {}, "Library"), searchForm((q) => go({ q, pages: "" }), state.q), results);
  if (state.q) return showResults(state.q, results);
  // The cursors of the pages before this one and of this one, so "Newer" can go back.
  const pages = [null, ...state.pages.split(",").filter(Boolean)];
  let next = null;
  // What an action on a row led to, shown in that row while it holds: a retry's note until
  // the recording is finished again (then what became of it).
  const notes = new Map();
  const act = async (r, what) => {
    message.textContent = "";
    notes.delete(r.id);
    try {
      if (what === "delete") {
        if (!confirm(`Delete ${r.filename}? Its files are removed for good.`)) return;
        await request(`/recordings/${r.id}`, { method: "DELETE" });
        message.textContent = `${r.filename} was deleted.`;
      } else {
        await api(`/recordings/${r.id}/retry`, { method: "POST" });
        notes.set(r.id, { text: "Its failed stages run again.", retried: true });
      }
    } catch (error) {
      notes.set(r.id, { text: what === "delete" ? deleteRefusal(error, r) : `Retry refused: ${error.message}`, alert: true });
    }
    await refresh();
  };
  const noteFor = (r) => {
    const note = notes.get(r.id);
    if (note?.retried && ["done", "failed", "rejected"].includes(r.status)) {
      notes.set(r.id, { text: r.status === "failed" ? "Failed again: its page says why." : `Retried: ${r.status}.`, alert: r.status === "failed" });
    }
    const now = notes.get(r.id);
    return now ? h("p", { class: now.alert ? "row-note alert" : "row-note", role: now.alert ? "alert" : "status" }, now.text) : "";
  };
  const label = (i) => ({ "data-label": COLUMNS[i] });
  const refresh = async () => {
    const query = new URLSearchParams({ limit: 20 });
    if (pages.at(-1)) query.set("cursor", pages.at(-1));
    if (state.status) query.set("status", state.status);
    if (sort !== "newest") query.set("sort", sort);
    let page;
    try {
      page = await api(`/recordings?${query}`);
    } catch (error) {
      message.textContent = `The list could not be read: ${error.message}`;
      return;
    }
    next = page.next_cursor;
    older.disabled = !next;
    newer.disabled = pages.length === 1;
    empty.hidden = page.items.length > 0;
    empty.textContent = state.status ? `No recording is ${state.status}.` : "No recordings yet: upload one on the Upload page.";
    table.hidden = !empty.hidden;
    body.replaceChildren(
      ...page.items.map((r) =>
        h("tr", { "data-id": r.id },
          h("td", label(0), h("a", { href: `#/recordings/${r.id}` }, nameOf(r)), r.title ? h("span", { class: "file-name" }, r.filename) : ""),
          h("td", label(1), h("time", { datetime: r.created_at }, fmtDate(r.created_at, true))),
          h("td", { ...label(2), class: `status ${r.status}` }, r.status),
          h("td", label(3), fmtSeconds(r.duration_s)),
          h("td", { ...label(4), class: "speakers" }, r.speakers.map((s) => s.name ?? s.id).join(", ")),
          h("td", label(5), r.summary ?? ""),
          h("td", label(6), topicText(r.topic)),
          h("td", { ...label(7), class: "actions" },
            r.status === "failed" ? h("button", { type: "button", class: "retry", onclick: () => act(r, "retry") }, "Retry") : "",
            " ",
            kept(r)
              ? h("span", { class: r.hold ? "held legal-hold" : "held", title: r.hold ? "Kept until an administrator releases the hold." : HELD_WHY }, keptText(r))
              : h("button", { type: "button", class: "delete", "aria-label": `Delete ${r.filename}`, onclick: () => act(r, "delete") }, "Delete"),
            noteFor(r)),
        ),
      ),
    );
  };
  filter.addEventListener("change", () => go({ status: filter.value, pages: "" }));
  order.addEventListener("change", () => go({ sort: order.value === "newest" ? "" : order.value, pages: "" }));
  older.addEventListener("click", () => { if (next) go({ pages: [...pages.slice(1), next].join(",") }); });
  newer.addEventListener("click", () => { if (pages.length > 1) go({ pages: pages.slice(1, -1).join(",") }); });
  await refresh();
  liveTimer = setInterval(refresh, 3000);
}

// --- Recording -------------------------------------------------------------------------------

const VARIANTS = { original: "Original", archive: "Archive (AAC)", echo: "Echo (MP3)" };
// What each copy and each stage is, where they are listed.
const VARIANT_WHY = { original: "the file as uploaded", archive: "the copy kept for legal retention", echo: "echo filtered out, for listening" };
const STAGE_WHY = { archive: "the archive copy (AAC)", echo: "the echo-filtered copy (MP3)", transcribe: "speech to text, with speakers", summarize: "a summary of at most 50 characters" };
const fmtBytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`);
const tookText = (s) => (s.started_at && s.finished_at ? ` (${((new Date(s.finished_at) - new Date(s.started_at)) / 1000).toFixed(1)} s)` : "");

// A recording's state in words, for any status but done.
function whatHappened(r) {
  const failed = r.stages.filter((s) => s.status === "failed");
  const running = r.stages.filter((s) => s.status === "running").map((s) => s.name);
  if (r.status === "failed") {
    return `Processing failed: ${failed.map((s) => `${s.name}${s.error ? ` (${s.error})` : ""}`).join("; ")}. ` +
      "What finished is kept; Retry runs the failed stages again.";
  }
  if (r.status === "rejected") return `Rejected as off topic${r.topic ? ` for ${r.topic.expected}` : ""}: its archive copy is kept.`;
  const stage = (name) => r.stages.find((s) => s.name === name)?.status;
  if (["queued", "processing"].includes(r.status) && stage("transcribe") === "done" && ["pending", "running"].includes(stage("summarize"))) {
    return "Transcribed; the summary is being made again.";
  }
  if (r.status === "queued") return "Waiting for a free slot: processing starts soon. The transcript appears here as it is made.";
  if (r.status === "processing") return `Processing${running.length ? `: ${running.join(", ")}` : ""}. The transcript appears here as it is made.`;
  return "";
}

async function recordingPage(id, startAt) {
  let rec;
  try {
    rec = await api(`/recordings/${id}`);
  } catch (error) {
    main().replaceChildren(h("h1", {}, "Recording"), h("p", { role: "alert" }, error.message));
    return;
  }
  const stages = h("ol", { class: "stages", "aria-live": "polite" });
  const audio = h("audio", { controls: true, preload: "metadata", id: "player", "aria-label": "Audio" });
  const wave = h("canvas", { id: "waveform", class: "waveform", height: 96, tabindex: 0, role: "slider", "aria-label": "Waveform: click, drag or use the arrow keys to seek", "aria-valuemin": 0, hidden: true });
  const variant = h("select", { id: "variant", "aria-label": "Copy to play", title: "Which copy plays: the original, the archive copy or the echo-filtered one" });
  const waveNote = h("p", { id: "wave-note", class: "note-line" }, "The waveform appears here once the recording is transcribed.");
  const transcript = h("ol", { class: "transcript", id: "transcript" });
  const speakers = h("form", { class: "speakers", id: "speakers", hidden: true });
  const summary = h("p", { class: "summary", id: "summary" });
  // Fetched with the key (a plain link cannot send one), then saved.
  const FILES = { txt: "Text", md: "Markdown", docx: "Word", srt: "SRT", vtt: "WebVTT", json: "JSON" };
  const downloads = h("p", { class: "downloads", id: "transcript-files" }, "Transcript: ", Object.entries(FILES).map(([f, label]) => [
    h("a", { href: `${API}/recordings/${id}/transcript?format=${f}`, "data-format": f, onclick: (e) => { e.preventDefault(); download(`/recordings/${id}/transcript?format=${f}`, `${fileStem(rec)}.${f}`).catch((error) => { statusLine.textContent = error.message; }); } }, label), " "]));
  const editing = h("button", { type: "button", id: "edit", "aria-pressed": "false" }, "Correct the transcript");
  const editNote = h("p", { id: "edit-note", class: "note", role: "status", hidden: true },
    "Click a segment to correct its words or its speaker; a turn's speaker menu moves the whole turn. The machine's transcript is kept beside each correction.");
  const heading = h("h1", { id: "title" }, nameOf(rec));
  const fileLine = h("span", { id: "file-name", class: "file-name" });
  const rename = h("button", { type: "button", id: "rename" }, "Rename");
  const titleInput = h("input", { id: "title-input", maxlength: 200, size: 40, "aria-label": "Title" });
  const titleNote = h("span", { role: "alert" });
  const titleForm = h("form", { id: "title-form", hidden: true }, titleInput, " ", h("button", { type: "submit" }, "Save title"), " ",
    h("button", { type: "button", onclick: () => { titleForm.hidden = true; rename.hidden = false; } }, "Cancel"), " ", titleNote);
  const statusLine = h("p", { id: "status" });
  const explain = h("p", { id: "explain", class: "note", role: "status", hidden: true });
  const madeBar = h("progress", { id: "transcript-bar", max: 1, value: 0 });
  const madeLine = h("p", { id: "transcript-progress", class: "note-line", role: "status", hidden: true });
  const variants = h("ul", { class: "variants", id: "variants" });
  const retry = h("button", { type: "button", id: "retry", hidden: true }, "Retry failed stages");
  const remove = h("button", { type: "button", id: "delete", class: "delete", hidden: true }, "Delete");
  const held = h("span", { id: "held", class: "held", title: HELD_WHY, hidden: true });
  // Legal holds are an administrator's: offered on an open server or to an admin's sign-in.
  const holding = h("button", { type: "button", id: "hold", hidden: session?.required && session?.key?.scope !== "admin" });
  const holdReason = h("input", { id: "hold-reason", maxlength: 500, size: 40, required: true, "aria-label": "Reason" });
  const holdNote = h("span", { role: "alert", id: "hold-note" });
  const holdSave = h("button", { type: "submit" });
  const holdForm = h("form", { id: "hold-form", hidden: true }, h("label", { for: "hold-reason" }, "Why: "), holdReason, " ", holdSave, " ",
    h("button", { type: "button", onclick: () => { holdForm.hidden = true; } }, "Cancel"), " ", holdNote);
  const removeNote = h("span", { id: "delete-note", role: "alert" });
  // The player stays in view (sticky) above the transcript it is read with; stages and files,
  // looked at once, come after it.
  const play = h("button", { type: "button", id: "play", "aria-label": "Play" }, "Play");
  const back = h("button", { type: "button", id: "back", "aria-label": "Back 5 seconds" }, "−5 s");
  const forward = h("button", { type: "button", id: "forward", "aria-label": "Forward 5 seconds" }, "+5 s");
  const speed = h("select", { id: "speed" }, [0.75, 1, 1.25, 1.5, 2].map((r) => h("option", { value: r, selected: r === 1 }, `${r}×`)));
  const toLine = h("button", { type: "button", id: "to-line", hidden: true }, "Back to the playing line");
  const dock = h("section", { class: "dock", id: "dock", "aria-label": "Player" },
    h("div", { class: "controls" }, play, back, forward, h("label", { for: "speed" }, "Speed "), speed,
      h("label", { for: "variant" }, "Copy "), variant, toLine),
    wave, waveNote, audio,
    h("p", { class: "shortcuts", id: "shortcuts" }, "Keys: Space or K play/pause · J or ← back 5 s · L or → forward 5 s"));
  // Its parts as sections: what it is, the player, what was said, and how it was processed.
  const section = (id, title, ...parts) => h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...parts);
  main().replaceChildren(
    h("div", { class: "page-head" },
      heading, h("p", { class: "controls" }, fileLine, rename), titleForm, statusLine, explain, h("p", { class: "controls" }, retry, remove, held, holding, removeNote), holdForm),
    dock,
    section("summary-part", "Summary", summary),
    section("transcript-part", "Transcript", h("div", { class: "toolbar" }, downloads, editing), madeLine, editNote, speakers, transcript),
    h("div", { class: "details" },
      section("stages-part", "Stages", h("p", { class: "note-line" }, "Each recording runs four stages; the first three at once."), stages),
      section("files-part", "Files", variants)),
  );

  // The player and the progress stream use the signed links (an <audio> element and an
  // EventSource cannot send a key); each read of the recording brings fresh ones.
  const streamUrl = (r, name) => r.variants[name]?.signed_url ?? `${API}/recordings/${id}/stream?variant=${name}`;
  // The original first; once it is past its own retention, the archive copy that stays.
  const playable = (r) => ["original", "archive", "echo"].find((name) => r.variants[name]) ?? "original";
  // How far transcription has come, by audio time, and about how long the rest takes at the
  // pace seen on this page (first seen -> now).
  let paceFrom = null;
  const showProgress = (r) => {
    const { done_s: done, total_s: total } = r.transcript_progress ?? { done_s: 0, total_s: 0 };
    const running = r.stages.some((s) => s.name === "transcribe" && s.status === "running");
    madeLine.hidden = !running;
    if (!running) return;
    paceFrom ??= { at: Date.now(), done };
    const pace = (done - paceFrom.done) / ((Date.now() - paceFrom.at) / 1000); // audio s per s
    const left = pace > 0 ? ` · about ${fmtSeconds(Math.max(1, (total - done) / pace))} left` : done > 0 ? "" : " · the text appears a minute of audio at a time";
    madeBar.value = total ? done / total : 0;
    madeLine.replaceChildren(madeBar, ` Transcribed ${fmtSeconds(done)} of ${fmtSeconds(total)}${left}`);
  };
  const render = (r) => {
    rec = r;
    showProgress(r);
    heading.textContent = nameOf(r);
    fileLine.textContent = r.title ? `File: ${r.filename}` : "";
    statusLine.textContent = `Status: ${r.status} · ${fmtSeconds(r.duration_s)}` + (r.topic ? ` · topic ${r.topic.expected}: ${r.topic.on_topic ? "on topic" : "off topic"}` : "");
    statusLine.dataset.status = r.status;
    retry.hidden = r.status !== "failed";
    remove.hidden = kept(r);
    held.hidden = !remove.hidden;
    held.classList.toggle("legal-hold", Boolean(r.hold));
    holding.textContent = r.hold ? "Release the hold…" : "Legal hold…";
    holdSave.textContent = r.hold ? "Release" : "Put on hold";
    held.textContent = held.hidden ? "" : r.hold ? `${holdText(r)}: it cannot be deleted until the hold is released.` : `${heldText(r)}: under legal retention, it cannot be deleted before then.`;
    explain.textContent = whatHappened(r);
    explain.hidden = !explain.textContent;
    // Only what can be served: the transcript's files once it is made.
    downloads.hidden = !r.stages.some((s) => s.name === "transcribe" && s.status === "done");
    editing.hidden = downloads.hidden;
    stages.replaceChildren(...r.stages.map((s) => h("li", { "data-stage": s.name, "data-status": s.status }, `${s.name}: ${s.status}`, tookText(s), s.error ? ` — ${s.error}` : "", h("span", { class: "why" }, ` (${STAGE_WHY[s.name] ?? ""})`))));
    variants.replaceChildren(...Object.entries(r.variants).map(([name, v]) => h("li", { "data-variant": name },
      h("a", { href: v.signed_url, download: `${r.filename}.${name}` }, VARIANTS[name] ?? name), ` · ${VARIANT_WHY[name] ?? ""} · ${v.content_type} · ${fmtBytes(v.size_bytes)}`)));
    if (r.original_removed_at) {
      variants.append(h("li", { "data-variant": "original", class: "why" }, `Original: removed ${fmtDate(r.original_removed_at)}, past its own retention; the archive copy stays.`));
    }
    const current = variant.value || playable(r);
    variant.replaceChildren(...Object.keys(r.variants).map((v) => h("option", { value: v, selected: v === current }, VARIANTS[v] ?? v)));
    summary.textContent = r.summary ?? (r.status === "done" ? "(no summary: no speech)" : "…");
  };
  // Follow-along: the segment being played and the word being said are marked, and the line is
  // kept in view, unless the reader scrolled away (then a button brings it back).
  let spoken = [];
  let words = [];
  let saidWord = null;
  let following = true;
  const lastAt = (list, at) => {
    let found = null;
    for (const el of list) if (Number(el.dataset.start) <= at + 0.05) found = el; else break;
    return found;
  };
  const follow = () => {
    const at = audio.currentTime;
    const current = lastAt(spoken, at);
    for (const segment of spoken) {
      // Centred: clear of the player that stays at the top.
      if (segment === current && !segment.classList.contains("current") && following) segment.scrollIntoView({ block: "center" });
      segment.classList.toggle("current", segment === current);
    }
    const word = current ? lastAt(current.querySelectorAll(".word"), at) : null;
    if (word !== saidWord) {
      saidWord?.removeAttribute("aria-current");
      word?.setAttribute("aria-current", "true");
      saidWord = word;
    }
  };
  const strayed = () => { if (!audio.paused && following) { following = false; toLine.hidden = false; } };
  onPage(window, "wheel", strayed, { passive: true });
  onPage(window, "touchmove", strayed, { passive: true });
  toLine.addEventListener("click", () => {
    following = true;
    toLine.hidden = true;
    (saidWord ?? spoken.find((segment) => segment.classList.contains("current")))?.scrollIntoView({ block: "center" });
  });
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  // Controls and keys: wherever the focus is, except where keys type or the audio's own controls.
  const skip = (by) => { audio.currentTime = Math.max(0, Math.min(audio.duration || 0, audio.currentTime + by)); };
  const toggle = () => (audio.paused ? audio.play() : audio.pause());
  play.addEventListener("click", toggle);
  back.addEventListener("click", () => skip(-5));
  forward.addEventListener("click", () => skip(5));
  speed.addEventListener("change", () => { audio.playbackRate = Number(speed.value); });
  const showPlaying = () => { const label = audio.paused ? "Play" : "Pause"; play.textContent = label; play.setAttribute("aria-label", label); };
  audio.addEventListener("play", showPlaying);
  audio.addEventListener("pause", showPlaying);
  onPage(document, "keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest?.("input, textarea, select, audio, [contenteditable]")) return;
    const key = e.key.toLowerCase();
    if (key === " " || key === "k") toggle();
    else if (key === "j" || (key === "arrowleft" && e.target !== wave)) skip(-5);
    else if (key === "l" || (key === "arrowright" && e.target !== wave)) skip(5);
    else return;
    e.preventDefault(); // Space on a focused segment would click it: here it plays or pauses
  });
  const loadTranscript = async () => {
    // Before its first window is transcribed there is nothing to ask for (a 409).
    const transcribed = rec.stages.some((s) => s.name === "transcribe" && s.status === "done");
    if (!transcribed && !(rec.transcript_progress?.done_s > 0)) {
      transcript.replaceChildren(h("li", { class: "note" }, "The transcript appears here as the recording is transcribed."));
      return;
    }
    try {
      const t = await api(`/recordings/${id}/transcript?format=json`);
      const seek = (at) => { audio.currentTime = at; audio.play(); };
      // A word is a click target inside its segment's button (the keyboard's target).
      const said = (s) => (s.words?.length ? s.words.map((w) => [h("span", { class: "word", "data-start": w.start, onclick: (e) => { if (transcript.classList.contains("editing")) return; e.stopPropagation(); seek(w.start); } }, w.word), " "]) : s.text);
      const names = Object.fromEntries(t.speakers.map((p) => [p.id, p.name || p.id]));
      const tag = (speaker) => (speaker ? [h("span", { class: speakerClass(t.speakers, speaker), "data-speaker": speaker }, names[speaker]), " "] : "");
      // Read as turns: one speaker's consecutive segments under their name and time, in
      // paragraphs, each segment inline (a sentence Whisper split across two reads as one). A
      // long turn breaks into paragraphs only where a sentence ends.
      const paragraphs = [];
      let previous = null;
      for (const s of t.segments) {
        const last = paragraphs.at(-1);
        const sameSpeaker = last && last.speaker === (s.speaker ?? null);
        const sentenceEnded = previous && /[.!?]["')\]]?$/.test(previous.text.trim());
        const paused = previous && s.start - previous.end >= 2;
        if (sameSpeaker && !(sentenceEnded && (paused || last.segments.length >= 4))) last.segments.push(s);
        else paragraphs.push({ speaker: s.speaker ?? null, start: s.start, segments: [s], turn: !sameSpeaker });
        previous = s;
      }
      // A turn (what a speaker move moves): the segments from one paragraph that starts a
      // turn up to the next.
      let turnSegments = [];
      for (const paragraph of paragraphs) {
        if (paragraph.turn) turnSegments = [];
        turnSegments.push(...paragraph.segments);
        paragraph.whole = turnSegments;
      }
      const labels = t.speakers.map((p) => p.id);
      const nextLabel = `S${Math.max(0, ...labels.map((l) => Number(l.slice(1)))) + 1}`;
      const speakerMenu = (current, attrs) => h("select", attrs,
        [...labels, nextLabel].map((l) => h("option", { value: l, selected: l === current }, l === nextLabel ? `New speaker (${l})` : names[l])));
      const correct = async (changes) => {
        try {
          await api(`/recordings/${id}/transcript`, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ segments: changes }) });
        } catch (error) {
          statusLine.textContent = `Not saved: ${error.message}`;
          return;
        }
        await loadTranscript();
        // A changed text is summarized again: the recording is queued, its progress followed.
        const now = await api(`/recordings/${id}`);
        renderLatest(now);
        if (!["done", "failed", "rejected"].includes(now.status)) followProgress();
      };
      const editor = (s, segment) => {
        const text = h("textarea", { name: "text", rows: 3, "aria-label": `Words said at ${fmtSeconds(s.start)}` }, s.text);
        const who = labels.length ? speakerMenu(s.speaker, { name: "speaker", "aria-label": "Speaker" }) : "";
        const form = h("form", { class: "segment-edit" }, text, who ? h("label", {}, "Speaker ", who) : "",
          h("button", { type: "submit" }, "Save"), " ", h("button", { type: "button", onclick: () => form.replaceWith(segment) }, "Cancel"));
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          const change = { id: s.id };
          if (text.value.trim() !== s.text.trim()) change.text = text.value;
          if (who && who.value !== s.speaker) change.speaker = who.value;
          if (change.text === undefined && change.speaker === undefined) form.replaceWith(segment);
          else correct([change]);
        });
        segment.replaceWith(form);
        text.focus();
      };
      spoken = [];
      const turnItem = (turn) => h("li", { class: turn.turn ? "turn" : "turn more", "data-start": turn.start, "data-speaker": turn.speaker ?? false },
        turn.turn ? h("p", { class: "turn-head" }, tag(turn.speaker), h("span", { class: "time" }, fmtSeconds(turn.start)),
          labels.length ? h("label", { class: "turn-move" }, " Move turn to ", speakerMenu(turn.speaker, { class: "turn-speaker", "aria-label": `Speaker of the turn at ${fmtSeconds(turn.start)}`,
            onchange: (e) => correct(turn.whole.map((s) => ({ id: s.id, speaker: e.target.value }))) })) : "") : "",
        h("p", { class: "turn-text" }, turn.segments.map((s) => {
          // A span, not a <button>: a button is a box, and would break every segment onto
          // lines of its own. Enter seeks (Space plays and pauses, as everywhere on the page);
          // while correcting, both open the segment's editor instead.
          const act = () => (transcript.classList.contains("editing") ? editor(s, segment) : seek(s.start));
          const machine = s.machine ? `; corrected (the machine heard${s.machine.speaker !== s.speaker ? ` ${names[s.machine.speaker] ?? s.machine.speaker}` : ""}: “${s.machine.text}”)` : "";
          const segment = h("span", { class: s.machine ? "segment edited" : "segment", role: "button", tabindex: 0, "data-start": s.start, "data-id": s.id, title: fmtSeconds(s.start) + machine,
            onclick: act, onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); act(); } } }, said(s));
          spoken.push(segment);
          return [segment, " "];
        })));
      transcript.replaceChildren(...paragraphs.map(turnItem));
      saidWord = null;
      showSpeakers(speakers, t.speakers, async (named) => {
        await api(`/recordings/${id}/speakers`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(named) });
        await loadTranscript();
      });
      follow();
    } catch {
      transcript.replaceChildren(h("li", {}, "Not transcribed yet."));
      return;
    }
    if (wave.dataset.drawn || !transcribed) return; // made with the whole transcript
    try {
      drawWaveform(wave, audio, await api(`/recordings/${id}/waveform`));
      wave.hidden = false;
      waveNote.hidden = true;
    } catch {
      // no waveform (yet): the player alone
    }
  };
  editing.addEventListener("click", () => {
    const on = transcript.classList.toggle("editing");
    editing.setAttribute("aria-pressed", String(on));
    editing.textContent = on ? "Done correcting" : "Correct the transcript";
    editNote.hidden = !on;
  });
  variant.addEventListener("change", () => {
    const at = audio.currentTime;
    audio.src = streamUrl(rec, variant.value);
    audio.currentTime = at;
  });
  // Answers can arrive out of order on a slow link: only the newest request's answer is shown,
  // so a re-read begun before `done` never puts "processing" back.
  let asked = 0;
  const renderLatest = async (answer) => {
    const ticket = ++asked;
    const r = await answer;
    if (ticket === asked) render(r);
  };
  render(rec);
  audio.src = streamUrl(rec, playable(rec));
  // Opened from a search hit: the player starts where it is said.
  if (startAt > 0) audio.addEventListener("loadedmetadata", () => { audio.currentTime = startAt; }, { once: true });
  const followProgress = () => {
    stopLive();
    liveEvents = new EventSource(rec.events_url ?? `${API}/recordings/${id}/events`);
    liveEvents.addEventListener("stage", () => renderLatest(api(`/recordings/${id}`)));
    // A long recording's text appears window by window, as it is transcribed.
    liveEvents.addEventListener("transcript", async (e) => {
      const made = JSON.parse(e.data);
      rec = { ...rec, transcript_progress: { done_s: made.done_s, total_s: made.total_s } };
      showProgress(rec);
      await loadTranscript();
    });
    liveEvents.addEventListener("done", async (e) => {
      liveEvents.close();
      await renderLatest(JSON.parse(e.data));
      await loadTranscript();
    });
  };
  rename.addEventListener("click", () => {
    titleInput.value = rec.title ?? "";
    titleForm.hidden = false;
    rename.hidden = true;
    titleInput.focus();
  });
  titleForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    titleNote.textContent = "";
    try {
      const r = await api(`/recordings/${id}`, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ title: titleInput.value }) });
      renderLatest(r);
      titleForm.hidden = true;
      rename.hidden = false;
    } catch (error) {
      titleNote.textContent = `Not saved: ${error.message}`;
    }
  });
  remove.addEventListener("click", async () => {
    removeNote.textContent = "";
    if (!confirm(`Delete ${nameOf(rec)}? Its files are removed for good.`)) return;
    try {
      await request(`/recordings/${id}`, { method: "DELETE" });
      location.hash = "#/library";
    } catch (error) {
      removeNote.textContent = deleteRefusal(error, rec);
    }
  });
  holding.addEventListener("click", () => {
    holdReason.value = "";
    holdNote.textContent = "";
    holdForm.hidden = false;
    holdReason.focus();
  });
  holdForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    holdNote.textContent = "";
    try {
      const r = await api(`/recordings/${id}/hold`, { method: rec.hold ? "DELETE" : "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason: holdReason.value }) });
      await renderLatest(r);
      holdForm.hidden = true;
    } catch (error) {
      holdNote.textContent = `Not changed: ${error.message}`;
    }
  });
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await renderLatest(api(`/recordings/${id}/retry`, { method: "POST" }));
      followProgress();
    } catch (error) {
      statusLine.textContent = `Retry refused: ${error.message}`;
    } finally {
      retry.disabled = false;
    }
  });
  await loadTranscript();
  if (!["done", "failed", "rejected"].includes(rec.status)) followProgress();
}

// --- Router ----------------------------------------------------------------------------------

async function route() {
  stopLive();
  for (const [target, type, listener, options] of pageListeners) target.removeEventListener(type, listener, options);
  pageListeners = [];
  const hash = location.hash || "#/upload";
  const path = hash.split("?")[0];
  document.querySelectorAll("nav a").forEach((a) => a.setAttribute("aria-current", a.getAttribute("href") === path ? "page" : "false"));
  const match = hash.match(/^#\/recordings\/([0-9a-f]{32})(?:\?t=([0-9.]+))?$/);
  if (match) return recordingPage(match[1], Number(match[2] ?? 0));
  if (path === "#/library") return libraryPage(new URLSearchParams(hash.split("?")[1] ?? ""));
  if (hash.startsWith("#/key")) return keyPage();
  if (path === "#/record") return recordPage(main(), topics, onPage);
  return uploadPage();
}

(async () => {
  const state = await sessionState();
  if (state?.required && !state.signed_in) {
    // Straight to the sign-in page, rather than a refused call first; back here after it.
    if (!location.hash.startsWith("#/key")) history.replaceState(null, "", askedFor());
  } else {
    topics = (await api("/domains").catch(() => ({ items: [] }))).items;
  }
  window.addEventListener("hashchange", route);
  await route();
})();

// --- Speakers --------------------------------------------------------------------------------

// One colour per speaker, in order of first appearance: classes speaker-0 to speaker-7 in
// app.css (the app's CSP allows no inline style).
const speakerClass = (list, id) => `speaker speaker-${list.findIndex((p) => p.id === id) % 8}`;

// The speakers of a transcript, each with a field to name them for this recording.
function showSpeakers(form, list, save) {
  form.hidden = list.length === 0;
  const fields = list.map((p) => {
    const input = h("input", { id: `speaker-${p.id}`, name: p.id, value: p.name ?? "", placeholder: p.id, maxlength: 64, size: 16 });
    return h("span", { class: "speaker-field" }, h("label", { for: input.id, class: speakerClass(list, p.id) }, p.id), " ", input, " ");
  });
  const said = h("span", { role: "status" });
  form.replaceChildren(h("fieldset", {}, h("legend", {}, "Speakers (name them for this recording)"), fields, h("button", { type: "submit" }, "Save names"), " ", said));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const named = Object.fromEntries(list.map((p) => [p.id, form.elements[p.id].value.trim()]));
    try {
      await save(named);
    } catch (error) {
      said.textContent = error.message;
    }
  };
}
