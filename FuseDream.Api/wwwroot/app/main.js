import { key, call, getJson, blobUrl } from "./api.js";
import { follow } from "./events.js";
import { ScorePlot } from "./plot.js";
import { Gallery } from "./gallery.js";

const $ = id => document.getElementById(id);
const plot = new ScorePlot($("plot"), $("plot-points"));
const gallery = new Gallery($("gallery"), $("gallery-newer"), $("gallery-older"), $("gallery-page"));
let options = null;       // GET /v1/options: models, presets, ranges
let current = null;       // { id, request, abort }
let lastRequest = null;
const finalStatuses = new Set(["succeeded", "failed", "canceled"]);

// ---- key ---------------------------------------------------------------------------------
// scripts/run.sh prints the page's URL as /#key=<key>: the fragment never reaches a server (nor
// its logs); it is moved into this tab's storage and removed from the address bar.
const fromUrl = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromUrl) {
  key.set(fromUrl);
  history.replaceState(null, "", location.pathname + location.search);
}
$("api-key").value = key.get();
$("key-form").addEventListener("submit", async event => {
  event.preventDefault();
  key.set($("api-key").value.trim());
  await start();
});

async function start() {
  const status = $("key-status");
  if (!key.get()) { status.textContent = "Enter an API key (scripts/run.sh prints one)."; return; }
  try {
    options = await getJson("/v1/options");
    const models = await getJson("/v1/models");
    fillForm(models);
    status.textContent = "Key accepted.";
    status.className = "";
    document.body.dataset.ready = "true";
    await gallery.load();
  } catch (error) {
    status.textContent = `The key was refused: ${error.message}`;
    status.className = "error";
  }
}

// ---- the form ----------------------------------------------------------------------------
function fillForm(models) {
  const served = new Set(models.models.map(m => m.id));
  $("model").replaceChildren(...options.models.map(id => {
    const served_ = served.size === 0 || served.has(id);
    return new Option(served_ ? id : `${id} (no worker)`, id, false, false);
  }));
  const firstServed = options.models.find(id => served.has(id));
  if (firstServed) $("model").value = firstServed;
  $("preset").replaceChildren(...Object.keys(options.presets).map(name => new Option(name, name, name === options.defaultPreset, name === options.defaultPreset)));
  const fields = $("advanced-fields");
  fields.replaceChildren();
  for (const [name, range] of Object.entries(options.ranges)) {
    const wrapper = document.createElement("div");
    const label = document.createElement("label");
    label.htmlFor = `opt-${name}`;
    label.textContent = `${name} `;
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = `(${range.min}–${range.max})`;
    label.append(hint);
    const input = document.createElement("input");
    Object.assign(input, { id: `opt-${name}`, name, type: "number", min: range.min, max: range.max, step: range.type === "integer" ? "1" : "any" });
    input.dataset.option = name;
    wrapper.append(label, input);
    fields.append(wrapper);
  }
  showPresetValues();
}

function showPresetValues() {
  const preset = options.presets[$("preset").value] ?? {};
  for (const input of document.querySelectorAll("[data-option]")) input.placeholder = preset[input.dataset.option] ?? "";
}
$("preset").addEventListener("change", showPresetValues);

function readForm() {
  const request = { prompt: $("prompt").value.trim(), model: $("model").value, preset: $("preset").value };
  if ($("seed").value !== "") request.seed = Number($("seed").value);
  const overrides = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    if (input.value === "") continue;
    if (input.dataset.option === "previewEvery") request.previewEvery = Number(input.value);
    else overrides[input.dataset.option] = Number(input.value);
  }
  if (Object.keys(overrides).length > 0) request.options = overrides;
  // Previews make the run worth watching: one every ~5% of the steps unless asked otherwise.
  if (request.previewEvery === undefined) {
    const steps = overrides.steps ?? options.presets[request.preset]?.steps ?? 0;
    request.previewEvery = Math.max(1, Math.round(steps / 20));
  }
  return request;
}

$("create-form").addEventListener("submit", async event => {
  event.preventDefault();
  await submit(readForm());
});
$("same-again").addEventListener("click", () => lastRequest && submit({ ...lastRequest, seed: lastRequest.seed }));
$("new-seed").addEventListener("click", () => { if (lastRequest) { const { seed, ...rest } = lastRequest; submit(rest); } });

async function submit(request) {
  const status = $("create-status");
  status.textContent = "Submitting…";
  status.className = "";
  try {
    const generation = await (await call("/v1/generations", { method: "POST", body: request })).json();
    status.textContent = `Queued as ${generation.id}.`;
    watch(generation, request);
    gallery.load();
  } catch (error) {
    status.textContent = error.message;
    status.className = "error";
  }
}

// ---- one run -----------------------------------------------------------------------------
function watch(generation, request) {
  current?.abort.abort();
  const abort = new AbortController();
  current = { id: generation.id, request, abort };
  $("run-section").hidden = false;
  $("run-section").dataset.status = generation.status;
  $("run-prompt").textContent = `“${generation.prompt}”`;
  $("result").hidden = true;
  $("cancel").disabled = false;
  $("previews").replaceChildren();
  setProgress(0, generation.status === "queued" ? `Queued (position ${generation.queuePosition ?? "?"})` : generation.status);
  plot.reset();
  const shown = new Set();
  // Errors in handling an event go to the console (where the browser tests look), not into the void.
  follow(generation.id, event => onEvent(event, shown).catch(error => console.error(error)), abort.signal)
    .catch(error => setProgress(0, `Lost the generation: ${error.message}`));
}

function setProgress(percent, text) {
  $("run-progress").value = percent;
  $("run-percent").textContent = `${Math.round(percent)}%`;
  $("run-phase").textContent = text;
}

async function onEvent(event, shown) {
  const data = event.data;
  if (!current || data.id !== current.id) return;
  $("run-section").dataset.status = data.status;
  const p = data.progress;
  if (data.status === "queued") setProgress(0, `Queued (position ${data.queuePosition ?? "?"})`);
  else if (p) {
    const eta = p.etaSeconds == null ? "" : ` — about ${formatSeconds(p.etaSeconds)} left`;
    setProgress(p.percent, `${p.phase}: step ${p.step} of ${p.total}${p.augClip == null ? "" : `, AugCLIP ${p.augClip.toFixed(4)}`}${eta}${data.cancelRequested ? " (canceling…)" : ""}`);
    if (p.phase === "optimizing") plot.add(p.step, p.augClip);
  }
  for (const preview of data.newPreviews) {
    if (shown.has(preview.step)) continue;
    shown.add(preview.step);
    addPreview(preview);
  }
  if (event.name === "final") await finish(data);
}

async function addPreview(preview) {
  const item = document.createElement("li");
  const img = document.createElement("img");
  img.alt = `Preview at step ${preview.step}`;
  const caption = document.createElement("span");
  caption.textContent = `step ${preview.step}`;
  item.append(img, caption);
  $("previews").append(item);
  try { img.src = await blobUrl(preview.url); } catch { img.alt += " (unavailable)"; }
}

async function finish(data) {
  $("cancel").disabled = true;
  gallery.load();
  if (data.status !== "succeeded") {
    setProgress($("run-progress").value, data.status === "canceled" ? "Canceled." : `Failed: ${data.error ?? "unknown error"}`);
    return;
  }
  setProgress(100, "Done.");
  const result = data.result;
  lastRequest = { ...current.request, seed: result.seed };
  const base = `/v1/generations/${data.id}`;
  $("result-image").src = await blobUrl(result.imageUrl);
  $("result-image").alt = `Final image for “${current.request.prompt}”`;
  $("result-score").textContent = result.augClipScore.toFixed(4);
  $("result-seed").textContent = result.seed;
  // The full trace (every scored step) replaces the live points.
  const trace = await getJson(result.traceUrl);
  plot.reset();
  for (const point of trace.points) plot.add(point.step, point.augClip);
  await Promise.all([
    link("download-png", result.imageUrl, "image/png", `fusedream-${data.id}.png`),
    link("download-json", result.traceUrl, "application/json", `fusedream-${data.id}.trace.json`),
    link("download-csv", result.traceUrl, "text/csv", `fusedream-${data.id}.trace.csv`),
    link("download-plot", `${base}/trace.png`, "image/png", `fusedream-${data.id}.trace.png`).catch(() => { $("download-plot").hidden = true; }),
  ]);
  $("result").hidden = false;
}

async function link(id, path, accept, name) {
  const a = $(id);
  a.href = await blobUrl(path, accept);
  a.download = name;
  a.hidden = false;
}

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  $("cancel").disabled = true;
  const run = current;
  try {
    await call(`/v1/generations/${run.id}/cancel`, { method: "POST" });
    // The final event may have come while the request was on its way: it has the last word.
    if (current === run && !finalStatuses.has($("run-section").dataset.status)) setProgress($("run-progress").value, "Canceling…");
  } catch (error) {
    if (current === run) $("run-phase").textContent = error.message;
  }
});

function formatSeconds(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  return seconds < 90 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

gallery.onOpen = generation => watch(generation, {
  prompt: generation.prompt, model: generation.model, preset: generation.preset ?? undefined, seed: generation.seed,
});

start();
