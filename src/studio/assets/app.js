// Atelier Studio: the page. Plain JavaScript, no framework and no CDN: it talks to the JSON
// API (the same one the README documents) and listens to /api/events for job progress.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
};

const state = {
  catalog: null,
  jobs: new Map(),      // id -> job
  current: {},          // tab -> job id shown in that tab
  uploads: {},          // input id -> upload (or list of uploads)
  selectedStyles: [],   // built-in names, in click order
};

function toast(msg, ok = false) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = ok ? "ok" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 6000);
}

async function api(path, opts = {}) {
  const res = await fetch(path, opts);
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

async function upload(file) {
  return api("/api/uploads", {
    method: "POST",
    headers: { "X-Filename": encodeURIComponent(file.name).slice(0, 200) },
    body: file,
  });
}

async function submit(tab, spec) {
  try {
    const job = await api("/api/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(spec),
    });
    state.jobs.set(job.id, job);
    show(tab, job.id);
    renderGallery();
    return job;
  } catch (e) {
    toast(e.message);
  }
}

const displayName = (n) => { try { return decodeURIComponent(n); } catch { return n; } };
const fileUrl = (job, name) => `/api/jobs/${job.id}/files/${encodeURIComponent(name)}`;
const fmtTime = (s) => (s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

// ---- tabs ------------------------------------------------------------------------------
function openTab(name) {
  $$("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  $$(".panel").forEach((p) => p.classList.toggle("active", p.id === `panel-${name}`));
  if (name === "gallery") renderGallery();
}
$$("#tabs button").forEach((b) => b.addEventListener("click", () => openTab(b.dataset.tab)));

// ---- drop zones --------------------------------------------------------------------------
// A drop zone uploads its file(s) at once, so a bad file is refused before any job.
function dropZone(inputId, onUploaded) {
  const input = $(`#${inputId}`);
  const zone = input.closest(".drop");
  const take = async (files) => {
    if (!files.length) return;
    zone.classList.add("busy");
    try {
      const ups = [];
      for (const f of files) ups.push(await upload(f));
      state.uploads[inputId] = input.multiple ? ups : ups[0];
      const img = $("img", zone);
      if (img && ups[0].kind === "image") {
        img.src = `/api/uploads/${ups[0].id}`;
        img.hidden = false;
      }
      $("span", zone).textContent = ups.map((u) => `${displayName(u.name)} (${u.width}×${u.height})`).join(", ");
      zone.classList.add("filled");
      onUploaded && onUploaded(state.uploads[inputId]);
    } catch (e) {
      toast(e.message);
    } finally {
      zone.classList.remove("busy");
    }
  };
  input.addEventListener("change", () => take([...input.files]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    take([...e.dataTransfer.files]);
  });
}

function sliderOutput(id, fmt = (v) => v) {
  const input = $(`#${id}`);
  const out = input.parentElement.querySelector("output");
  const update = () => (out.textContent = fmt(input.value));
  input.addEventListener("input", update);
  update();
}

// ---- job view -----------------------------------------------------------------------------
function show(tab, id) {
  state.current[tab] = id;
  renderJobIn(tab);
}

function settingsText(spec) {
  const s = { ...spec };
  delete s.task;
  if (s.mode !== "variations") { delete s.index; delete s.spread; delete s.picks; }
  if (Array.isArray(s.picks) && !s.picks.length) delete s.picks;
  const styles = (s.styles || []).map((r) => r.builtin || "my painting").join(" + ");
  const parts = [];
  if (styles) parts.push(styles);
  for (const [k, v] of Object.entries(s)) {
    if (["styles", "photo", "mask", "clip"].includes(k) || v === null || v === undefined || v === false) continue;
    parts.push(`${k} ${Array.isArray(v) ? v.join(",") : v}`);
  }
  return parts.join(" · ");
}

function progressBlock(job) {
  const pct = Math.round(job.progress * 100);
  return el("div", { class: "progress" },
    el("div", { class: "bar" }, el("div", { style: `width:${pct}%` })),
    el("div", { class: "status-line" },
      el("span", { class: `badge ${job.status}` }, job.status),
      ` ${job.message || ""}`,
      job.status === "running" ? ` · ${pct} %` : "",
      job.eta_s != null && job.status === "running" ? ` · about ${fmtTime(job.eta_s)} left` : ""));
}

function resultBlock(job) {
  const spec = job.spec;
  const main = job.outputs[0];
  const box = el("div", { class: "result" });
  if (!main) return box;
  const url = fileUrl(job, main);
  if (main.endsWith(".mp4")) {
    box.append(el("video", { src: url, controls: true, autoplay: true, loop: true, muted: true }));
  } else if (spec.task === "generate") {
    const strip = el("div", { class: `faces ${spec.mode || "grid"}` });
    job.outputs.slice(1).forEach((name, i) => {
      const img = el("img", { src: fileUrl(job, name), title: "More like this", alt: `work ${i}` });
      img.addEventListener("click", () => moreLikeThis(job, i));
      strip.append(img);
    });
    box.append(strip);
  } else if (spec.photo && (spec.task === "inpaint" || spec.task === "translate" || spec.task === "stylize")) {
    box.append(compare(`/api/uploads/${spec.photo}`, url));
  } else {
    box.append(el("img", { src: url, alt: "result" }));
  }
  box.append(el("a", { class: "download", href: url, download: `atelier-${spec.task}-${job.id}.${main.split(".").pop()}` }, "Download"));
  return box;
}

// Before/after: the result over the original, cut by a slider.
function compare(beforeUrl, afterUrl) {
  const after = el("img", { src: afterUrl, alt: "result", class: "after" });
  const before = el("img", { src: beforeUrl, alt: "before", class: "before" });
  const clip = el("div", { class: "clip" }, before);
  const slider = el("input", { type: "range", min: 0, max: 100, value: 50, class: "compare-slider", "aria-label": "before / after" });
  const wrap = el("div", { class: "compare" }, after, clip, slider);
  const set = () => {
    clip.style.width = `${slider.value}%`;
    before.style.width = `${after.clientWidth}px`;
  };
  slider.addEventListener("input", set);
  after.addEventListener("load", set);
  window.addEventListener("resize", set);
  return el("div", {}, wrap, el("p", { class: "hint" }, "Drag the slider: before on the left, after on the right."));
}

function jobView(job, tab) {
  const view = el("div", { class: `job ${job.status}`, "data-job": job.id });
  view.append(el("div", { class: "job-head" }, el("strong", {}, job.spec.task), el("span", { class: "settings" }, settingsText(job.spec))));
  if (!["done"].includes(job.status)) view.append(progressBlock(job));
  if (job.status === "queued" || job.status === "running") {
    view.append(el("button", { class: "second cancel", onclick: () => cancel(job.id) }, "Cancel"));
  }
  if (job.preview && job.status === "running") {
    view.append(el("img", { class: "preview", src: `${fileUrl(job, job.preview)}?v=${job.preview_version}`, alt: "live preview" }));
  }
  if (job.error) view.append(el("p", { class: "error" }, job.error));
  if (job.status === "done") view.append(resultBlock(job));
  for (const n of job.notes || []) view.append(el("p", { class: "note" }, n));
  if (tab === "gallery") {
    view.append(el("div", { class: "actions" },
      el("button", { class: "second", onclick: () => rerun(job) }, "Re-run with changes"),
      job.status === "queued" || job.status === "running" ? null :
        el("button", { class: "second danger", onclick: () => remove(job.id) }, "Delete")));
  }
  return view;
}

function renderJobIn(tab) {
  const id = state.current[tab];
  const job = id && state.jobs.get(id);
  const box = $(`#${tab}-job`);
  if (!job || !box) return;
  // Keep a playing video (and the slider) untouched once done.
  const old = $(".job", box);
  if (old && old.dataset.job === job.id && old.classList.contains("done") && job.status === "done") return;
  box.replaceChildren(jobView(job, tab));
}

async function cancel(id) {
  try { state.jobs.set(id, await api(`/api/jobs/${id}/cancel`, { method: "POST" })); refresh(id); } catch (e) { toast(e.message); }
}

async function remove(id) {
  if (!confirm("Delete this result and its files?")) return;
  try {
    await api(`/api/jobs/${id}`, { method: "DELETE" });
    state.jobs.delete(id);
    renderGallery();
  } catch (e) { toast(e.message); }
}

const tabOf = (job) => ({ stylize: "stylize", generate: "generate", translate: "translate", inpaint: "restore", video: "video" })[job.spec.task];

function refresh(id) {
  const job = state.jobs.get(id);
  if (!job) return;
  for (const [tab, cur] of Object.entries(state.current)) if (cur === id) renderJobIn(tab);
  const card = $(`#gallery [data-job="${id}"]`);
  if (card) card.replaceWith(jobView(job, "gallery"));
  renderQueue();
}

function renderQueue() {
  const all = [...state.jobs.values()];
  const running = all.filter((j) => j.status === "running").length;
  const waiting = all.filter((j) => j.status === "queued").length;
  $("#queue-status").textContent = running || waiting ? `${running} running · ${waiting} waiting` : "idle";
  $("#gallery-count").textContent = all.length ? `(${all.length})` : "";
}

function renderGallery() {
  const jobs = [...state.jobs.values()].sort((a, b) => b.created - a.created);
  $("#gallery").replaceChildren(...jobs.map((j) => jobView(j, "gallery")));
  $("#gallery-empty").hidden = jobs.length > 0;
  renderQueue();
}

// Put a job's settings back into its tab's form, to change and run again.
function rerun(job) {
  const s = job.spec;
  const tab = tabOf(job);
  openTab(tab);
  const setUpload = (inputId, id) => {
    state.uploads[inputId] = { id, kind: "image", name: "from the gallery" };
    const zone = $(`#${inputId}`).closest(".drop");
    const img = $("img", zone);
    if (img) { img.src = `/api/uploads/${id}`; img.hidden = false; }
    $("span", zone).textContent = "the same file as before";
    zone.classList.add("filled");
  };
  if (s.task === "stylize") {
    setUpload("stylize-photo", s.photo);
    const builtin = s.styles.every((r) => r.builtin);
    $(`input[name=style-source][value=${builtin ? "builtin" : "painting"}]`).checked = true;
    styleSourceChanged();
    if (builtin) {
      state.selectedStyles = s.styles.map((r) => r.builtin);
    } else {
      state.uploads["stylize-painting"] = s.styles.map((r) => ({ id: r.upload, kind: "image", name: "painting" }));
      $("#stylize-method").value = s.method || "adain";
    }
    renderBlend(s.weights);
    $("#stylize-strength").value = s.strength;
    $("#stylize-preserve").checked = !!s.preserve_color;
    $("#stylize-size").value = s.size ? String(s.size) : "";
  } else if (s.task === "generate") {
    $("#generate-class").value = s.class || "";
    $("#generate-seed").value = s.seed;
    $("#generate-truncation").value = s.truncation || 0;
  } else if (s.task === "translate") {
    setUpload("translate-photo", s.photo);
    $("#translate-model").value = s.model;
  } else if (s.task === "inpaint") {
    loadRestore({ id: s.photo });
    $("#restore-method").value = s.method || "gan";
  } else if (s.task === "video") {
    state.uploads["video-clip"] = { id: s.clip, kind: "video" };
    $("#video-clip-drop span").textContent = "the same clip as before";
    if (s.styles[0] && s.styles[0].builtin) $("#video-style").value = s.styles[0].builtin;
    $("#video-strength").value = s.strength;
  }
  $$("input[type=range]").forEach((r) => r.dispatchEvent(new Event("input")));
  show(tab, job.id);
}

// ---- stylise -------------------------------------------------------------------------------
function styleSourceChanged() {
  const painting = $("input[name=style-source]:checked").value === "painting";
  $("#style-builtin").hidden = painting;
  $("#style-painting").hidden = !painting;
  renderBlend();
}

function currentStyles() {
  if ($("input[name=style-source]:checked").value === "builtin") {
    return state.selectedStyles.map((n) => ({ builtin: n }));
  }
  return (state.uploads["stylize-painting"] || []).map((u) => ({ upload: u.id }));
}

// One weight slider per style when more than one is chosen.
function renderBlend(weights) {
  $$("#style-gallery .style-thumb").forEach((t) => t.classList.toggle("selected", state.selectedStyles.includes(t.dataset.style)));
  const styles = currentStyles();
  const box = $("#style-blend");
  box.replaceChildren();
  if (styles.length < 2) return;
  box.append(el("p", { class: "hint" }, "Blend:"));
  styles.forEach((s, i) => {
    const w = weights ? weights[i] : 1;
    const r = el("input", { type: "range", min: 0, max: 1, step: 0.05, value: w, class: "blend-weight" });
    box.append(el("label", {}, s.builtin || `painting ${i + 1}`, r));
  });
}

function buildStyleGallery() {
  const g = $("#style-gallery");
  for (const s of state.catalog.styles) {
    const card = el("button", { class: "style-thumb", "data-style": s.name, title: `${s.name} (${s.source})` },
      el("img", { src: `/api/styles/${encodeURIComponent(s.name)}/thumb.jpg`, alt: s.name, loading: "lazy" }),
      el("span", {}, s.name.replace(/-/g, " ")));
    card.addEventListener("click", () => {
      const i = state.selectedStyles.indexOf(s.name);
      if (i >= 0) state.selectedStyles.splice(i, 1);
      else {
        if (state.selectedStyles.length >= state.catalog.limits.max_styles) state.selectedStyles.shift();
        state.selectedStyles.push(s.name);
      }
      renderBlend();
    });
    g.append(card);
  }
  if (!state.catalog.styles.length) g.append(el("p", { class: "hint" }, "No built-in styles are installed."));
}

$("#stylize-go").addEventListener("click", () => {
  const photo = state.uploads["stylize-photo"];
  if (!photo) return toast("Choose a photo first.");
  const styles = currentStyles();
  if (!styles.length) return toast("Choose a style (click a thumbnail) or drop a painting.");
  const builtin = !!styles[0].builtin;
  const weights = styles.length > 1 ? $$("#style-blend .blend-weight").map((r) => Number(r.value)) : null;
  const method = builtin ? "fast" : $("#stylize-method").value;
  const size = $("#stylize-size").value;
  const spec = {
    task: "stylize", photo: photo.id, styles, weights, method,
    strength: Number($("#stylize-strength").value),
    preserve_color: $("#stylize-preserve").checked,
    size: size ? Number(size) : null,
  };
  if (method === "optimize") spec.iterations = Number($("#stylize-iterations").value);
  submit("stylize", spec);
});

$$("input[name=style-source]").forEach((r) => r.addEventListener("change", styleSourceChanged));
$("#stylize-method").addEventListener("change", () => ($("#iterations-row").hidden = $("#stylize-method").value !== "optimize"));

// ---- generate ----------------------------------------------------------------------------
function generateSpec(mode) {
  const t = Number($("#generate-truncation").value);
  return {
    task: "generate", mode,
    class: $("#generate-class").value || null,
    seed: Number($("#generate-seed").value) || 0,
    truncation: t > 0 ? t : null,
    n: mode === "interpolate" ? 10 : Number($("#generate-n").value),
  };
}
$("#generate-go").addEventListener("click", () => submit("generate", generateSpec("grid")));
$("#generate-strip").addEventListener("click", () => submit("generate", generateSpec("interpolate")));
$("#generate-dice").addEventListener("click", () => ($("#generate-seed").value = Math.floor(Math.random() * 1e6)));
function moreLikeThis(job, i) {
  const s = job.spec;
  if (s.mode === "interpolate") return;
  // On a grid: variations of that face. On variations: walk on from the clicked one.
  const next = s.mode === "variations"
    ? { ...s, n: 8, picks: [...(s.picks || []), i] }
    : { ...s, mode: "variations", index: i, n: 8, picks: [] };
  openTab("generate");
  submit("generate", next);
}

// ---- translate ---------------------------------------------------------------------------
$("#translate-go").addEventListener("click", () => {
  const photo = state.uploads["translate-photo"];
  if (!photo) return toast("Choose an image first.");
  const model = $("#translate-model").value;
  if (!model) return toast("No translation model is installed.");
  submit("translate", { task: "translate", photo: photo.id, model, size: Number($("#translate-size").value) });
});

// ---- restore: paint a mask over the image --------------------------------------------------
const restore = { photo: null, img: null, mask: null, drawing: false, last: null, painted: false };

function loadRestore(upload) {
  restore.photo = upload;
  const img = new Image();
  img.onload = () => {
    restore.img = img;
    const c = $("#restore-canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    restore.mask = document.createElement("canvas");
    restore.mask.width = c.width;
    restore.mask.height = c.height;
    restore.painted = false;
    $("#restore-editor").hidden = false;
    drawRestore();
  };
  img.src = `/api/uploads/${upload.id}`;
}

function drawRestore() {
  const c = $("#restore-canvas");
  const ctx = c.getContext("2d");
  ctx.drawImage(restore.img, 0, 0);
  ctx.globalAlpha = 0.65;
  ctx.drawImage(restore.mask, 0, 0);
  ctx.globalAlpha = 1;
}

function canvasPoint(e) {
  const c = $("#restore-canvas");
  const r = c.getBoundingClientRect();
  return [((e.clientX - r.left) * c.width) / r.width, ((e.clientY - r.top) * c.height) / r.height];
}

function paintTo(p) {
  const c = $("#restore-canvas");
  const m = restore.mask.getContext("2d");
  const scale = c.width / c.getBoundingClientRect().width;
  m.strokeStyle = m.fillStyle = "#ff2d6f";
  m.lineWidth = Number($("#restore-brush").value) * scale;
  m.lineCap = m.lineJoin = "round";
  m.beginPath();
  const from = restore.last || p;
  m.moveTo(from[0], from[1]);
  m.lineTo(p[0], p[1]);
  m.stroke();
  restore.last = p;
  restore.painted = true;
  drawRestore();
}

const canvas = $("#restore-canvas");
canvas.addEventListener("pointerdown", (e) => {
  restore.drawing = true;
  restore.last = null;
  canvas.setPointerCapture(e.pointerId);
  paintTo(canvasPoint(e));
});
canvas.addEventListener("pointermove", (e) => restore.drawing && paintTo(canvasPoint(e)));
["pointerup", "pointercancel"].forEach((t) => canvas.addEventListener(t, () => (restore.drawing = false)));
$("#restore-clear").addEventListener("click", () => {
  if (!restore.mask) return;
  restore.mask.getContext("2d").clearRect(0, 0, restore.mask.width, restore.mask.height);
  restore.painted = false;
  drawRestore();
});

// The mask the server reads: white where painted, black elsewhere, at the image's own size.
function maskBlob() {
  const out = document.createElement("canvas");
  out.width = restore.mask.width;
  out.height = restore.mask.height;
  const o = out.getContext("2d");
  o.fillStyle = "#000";
  o.fillRect(0, 0, out.width, out.height);
  const src = restore.mask.getContext("2d").getImageData(0, 0, out.width, out.height);
  const dst = o.getImageData(0, 0, out.width, out.height);
  for (let i = 3; i < src.data.length; i += 4) {
    if (src.data[i] > 0) dst.data[i - 3] = dst.data[i - 2] = dst.data[i - 1] = 255;
  }
  o.putImageData(dst, 0, 0);
  return new Promise((res) => out.toBlob(res, "image/png"));
}

$("#restore-go").addEventListener("click", async () => {
  if (!restore.photo) return toast("Choose a scan first.");
  if (!restore.painted) return toast("Paint over the damage first (drag on the picture).");
  try {
    const blob = await maskBlob();
    const mask = await upload(new File([blob], "mask.png", { type: "image/png" }));
    submit("restore", { task: "inpaint", photo: restore.photo.id, mask: mask.id, method: $("#restore-method").value });
  } catch (e) { toast(e.message); }
});

// ---- video ----------------------------------------------------------------------------------
$("#video-go").addEventListener("click", () => {
  const clip = state.uploads["video-clip"];
  if (!clip) return toast("Choose a clip first.");
  const style = $("#video-style").value;
  if (!style) return toast("No built-in styles are installed.");
  submit("video", {
    task: "video", clip: clip.id, styles: [{ builtin: style }],
    strength: Number($("#video-strength").value),
    size: Number($("#video-size").value),
    duration: Number($("#video-duration").value) || null,
  });
});

// ---- start ----------------------------------------------------------------------------------
async function start() {
  try {
    state.catalog = await api("/api/catalog");
  } catch (e) {
    toast(`Cannot reach the studio: ${e.message}`);
    return;
  }
  const c = state.catalog;
  $("#version").textContent = c.version;
  buildStyleGallery();
  for (const s of c.styles) $("#video-style").append(el("option", { value: s.name }, s.name.replace(/-/g, " ")));
  // Photo models first: a photo is what most people bring.
  const translators = [...c.translators].sort((a, b) => b.name.startsWith("photo") - a.name.startsWith("photo"));
  for (const t of translators) $("#translate-model").append(el("option", { value: t.name }, t.name.replace(/-/g, " ")));
  const explain = () => {
    const t = c.translators.find((m) => m.name === $("#translate-model").value);
    $("#translate-hint").textContent = !t ? "" : `${t.task}, trained at ${t.size} px. ` +
      (t.task.includes("edges") ? "It expects a line drawing: dark lines on white." : "Give it a photo.");
  };
  $("#translate-model").addEventListener("change", explain);
  explain();
  if (c.generator) for (const k of c.generator.classes) $("#generate-class").append(el("option", { value: k }, k.replace(/-/g, " ")));
  if (!c.adain) $("#stylize-method option[value=adain]").remove();
  if (!c.inpainter) $("#restore-method option[value=gan]").remove();
  for (const j of await api("/api/jobs")) state.jobs.set(j.id, j);
  renderGallery();
  const events = new EventSource("/api/events");
  events.addEventListener("job", (e) => {
    const job = JSON.parse(e.data);
    const known = state.jobs.has(job.id);
    state.jobs.set(job.id, job);
    if (!known) renderGallery();
    refresh(job.id);
  });
  events.addEventListener("lagged", async () => {
    for (const j of await api("/api/jobs")) state.jobs.set(j.id, j);
    renderGallery();
  });
}

dropZone("stylize-photo");
dropZone("stylize-painting", () => renderBlend());
dropZone("translate-photo");
dropZone("restore-photo", (u) => loadRestore(u));
dropZone("video-clip");
sliderOutput("stylize-strength");
sliderOutput("video-strength");
sliderOutput("restore-brush");
sliderOutput("generate-truncation", (v) => (Number(v) > 0 ? v : "off"));
start();
