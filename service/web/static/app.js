// The upload page: choose a file, upload it (with progress), follow the analysis over server-sent
// events, then play the annotated video beside its timeline. Jobs are listed and can be reopened
// or deleted.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { config: null, file: null, current: null, source: null, timeline: null };
const REFUSED = {
  400: "This upload cannot be used.",
  403: "The server refused this request.",
  413: "This file is too large.",
  415: "This is not a video.",
  422: "This video cannot be read.",
  429: "Too many videos are waiting.",
  503: "The server is shutting down.",
  507: "The server has no room for this file.",
};

function showError(title, detail) {
  const box = $("error");
  box.replaceChildren(el("strong", { text: title }), el("span", { text: detail || "" }));
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function setProgress(percent, text) {
  $("status").hidden = false;
  $("progress").value = Math.max(0, Math.min(100, percent));
  $("progress-text").textContent = text;
}

function hideProgress() {
  $("status").hidden = true;
}

// -- choosing and uploading ----------------------------------------------------------------------

function choose(file) {
  state.file = file || null;
  $("chosen").textContent = file ? `${file.name} (${fmtSize(file.size)})` : "";
  $("upload-button").disabled = !file;
  clearError();
}

function upload(event) {
  event.preventDefault();
  const file = state.file;
  if (!file) return;
  clearError();
  const limit = state.config ? state.config.max_upload_bytes : Infinity;
  if (file.size > limit) {
    showError("This file is too large.", `${file.name} is ${fmtSize(file.size)}; the limit is ${state.config.max_upload}.`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/jobs");
  xhr.responseType = "json";
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      const pct = (100 * e.loaded) / e.total;
      setProgress(pct, `Uploading… ${Math.floor(pct)} %`);
    }
  };
  xhr.onload = () => {
    $("upload-button").disabled = false;
    const body = xhr.response || {};
    if (xhr.status === 201) {
      choose(null);
      $("file-input").value = "";
      setProgress(0, "Queued…");
      refreshJobs();
      watch(body.id);
    } else if (xhr.status === 401) {
      toLogin();
    } else {
      hideProgress();
      showError(`${REFUSED[xhr.status] || "The upload was refused."} (HTTP ${xhr.status})`, body.detail || xhr.statusText);
    }
  };
  xhr.onerror = () => {
    $("upload-button").disabled = false;
    hideProgress();
    showError("The upload failed.", "The connection was lost or the server refused the file (is it larger than the limit?).");
  };
  $("upload-button").disabled = true;
  setProgress(0, "Uploading… 0 %");
  xhr.send(form);
}

// -- following a job -----------------------------------------------------------------------------

function describe(job) {
  if (job.state === "queued") return "Waiting in the queue…";
  if (job.state === "running") {
    const pct = Math.floor(100 * job.progress);
    const frames = job.frames_total ? ` (${job.frames_done}/${job.frames_total} frames)` : "";
    return `Analysing… ${pct} %${frames}`;
  }
  if (job.state === "done") return "Done: 100 %";
  return "Failed";
}

function watch(jobId) {
  if (state.source) state.source.close();
  state.current = jobId;
  const source = new EventSource(`/api/jobs/${jobId}/events`);
  state.source = source;
  const update = (e) => {
    const job = JSON.parse(e.data);
    if (state.current !== job.id) return;
    setProgress(100 * job.progress, describe(job));
    updateJobItem(job);
  };
  source.addEventListener("progress", update);
  source.addEventListener("done", (e) => {
    source.close();
    update(e);
    const job = JSON.parse(e.data);
    showResult(job);
    refreshJobs();
  });
  source.addEventListener("failed", (e) => {
    source.close();
    const job = JSON.parse(e.data);
    hideProgress();
    showError(`Could not analyse ${job.name}.`, job.error || "unknown error");
    refreshJobs();
  });
  source.addEventListener("gone", () => {
    source.close();
    hideProgress();
    refreshJobs();
  });
  source.onerror = async () => {
    // EventSource reconnects by itself; stop if the job no longer exists.
    try {
      await fetchJSON(`/api/jobs/${jobId}`);
    } catch (err) {
      if (err.status === 404) {
        source.close();
        hideProgress();
      }
    }
  };
}

// -- the result ----------------------------------------------------------------------------------

async function showResult(job) {
  state.current = job.id;
  $("result").hidden = false;
  $("result-title").textContent = job.name;
  const s = job.summary || {};
  const meta = [];
  if (s.frames) meta.push(`${s.frames} frames at ${Number(s.fps).toFixed(s.fps % 1 ? 2 : 0)} fps`);
  if (s.width) meta.push(`${s.width}×${s.height}`);
  if (s.backend) meta.push(`pose: ${s.backend}`);
  if (s.elapsed_s) meta.push(`analysed in ${s.elapsed_s.toFixed(1)} s`);
  $("result-meta").textContent = meta.join(" · ");
  const video = $("result-video");
  video.src = job.video_url;
  video.load();
  $("download-video").href = `${job.video_url}?download=1`;
  $("download-json").href = `${job.timeline_url}?download=1`;
  $("download-csv").href = job.csv_url;
  $("delete-job").onclick = () => removeJob(job.id);
  markCurrent();
  try {
    const timeline = await fetchJSON(job.timeline_url);
    state.timeline = timeline;
    renderTimeline(timeline);
  } catch (err) {
    $("timeline-chart").replaceChildren(el("p", { class: "error", text: `Timeline unavailable: ${err.message}` }));
  }
}

function seek(seconds) {
  const video = $("result-video");
  video.currentTime = seconds;
  video.play().catch(() => {});
}

function renderTimeline(t) {
  knowLabels(t.analysis && t.analysis.labels);
  const duration = t.source.duration_s || t.source.frames / t.source.fps;
  const chart = $("timeline-chart");
  chart.replaceChildren();
  const tracks = [...new Set(t.segments.map((s) => s.track_id))].sort((a, b) => a - b);
  if (!tracks.length) {
    chart.append(el("p", { class: "empty", text: "Nobody was found in this video, or nobody long enough to classify (about 1.5 s)." }));
  }
  const pct = (seconds) => `${(100 * seconds) / duration}%`;
  for (const track of tracks) {
    const lane = el("div", { class: "lane", title: "click to jump there" });
    const confirmed = el("div", { class: "lane thin", title: "confirmed segments (what the service would publish)" });
    for (const s of t.segments.filter((x) => x.track_id === track)) {
      const end = Math.min(duration, s.end_s + 1 / t.source.fps);
      lane.append(el("div", {
        class: "seg",
        title: `${prettyLabel(s.label)} ${fmtTime(s.start_s)}–${fmtTime(end)} · mean confidence ${(100 * s.confidence).toFixed(0)} %`,
        style: { left: pct(s.start_s), width: pct(end - s.start_s), background: labelColour(s.label), opacity: 0.45 + 0.55 * s.confidence },
      }, el("span", { text: prettyLabel(s.label) })));
    }
    for (const s of (t.confirmed || []).filter((x) => x.track_id === track)) {
      const end = Math.min(duration, s.end_s + 1 / t.source.fps);
      confirmed.append(el("div", {
        class: "seg",
        title: `confirmed ${s.label} ${fmtTime(s.start_s)}–${fmtTime(end)}`,
        style: { left: pct(s.start_s), width: pct(end - s.start_s), background: labelColour(s.label) },
      }));
    }
    const head = el("div", { class: "playhead", style: { left: "0%" } });
    lane.append(head);
    lane.addEventListener("click", (e) => {
      const box = lane.getBoundingClientRect();
      seek(((e.clientX - box.left) / box.width) * duration);
    });
    chart.append(el("div", { class: "track" },
      el("div", { class: "track-name", text: `Person #${track}` }), lane, confirmed));
  }
  chart.append(el("div", { class: "axis" }, el("span", { text: "0 s" }), el("span", { text: fmtTime(duration) })));

  const labels = [...new Set(t.segments.map((s) => s.label))];
  $("legend").replaceChildren(...labels.map((label) =>
    el("span", {}, el("i", { style: { background: labelColour(label) } }), prettyLabel(label))));

  const body = $("segments").querySelector("tbody");
  body.replaceChildren(...t.segments.map((s) => el("tr", { onclick: () => seek(s.start_s) },
    el("td", { text: `#${s.track_id}` }),
    el("td", {}, el("span", { class: "chip", style: { background: labelColour(s.label) }, text: prettyLabel(s.label) })),
    el("td", { text: fmtTime(s.start_s) }),
    el("td", { text: fmtTime(s.end_s) }),
    el("td", { text: `${(100 * s.confidence).toFixed(0)} %` }))));
  const confirmedCount = (t.confirmed || []).length;
  $("timeline-note").textContent =
    `Each bar is what the model said for that stretch (fainter = less sure). The thin line under it marks ` +
    `the ${confirmedCount} confirmed segment${confirmedCount === 1 ? "" : "s"} the live service would announce.`;
}

function movePlayhead() {
  const t = state.timeline;
  if (!t) return;
  const duration = t.source.duration_s || t.source.frames / t.source.fps;
  const left = `${(100 * $("result-video").currentTime) / duration}%`;
  for (const head of document.querySelectorAll(".playhead")) head.style.left = left;
}

// -- the job list --------------------------------------------------------------------------------

function jobMeta(job) {
  const parts = [fmtSize(job.size), new Date(job.created * 1000).toLocaleString()];
  if (job.state === "running") parts.unshift(`${Math.floor(100 * job.progress)} %`);
  if (job.state === "done" && job.summary && job.summary.labels) parts.unshift(job.summary.labels.map(prettyLabel).join(", ") || "no action found");
  if (job.state === "failed" && job.error) parts.unshift(job.error);
  return parts.join(" · ");
}

function jobItem(job) {
  const buttons = el("div", { class: "buttons" });
  if (job.state === "done") buttons.append(el("button", { type: "button", text: "Open", onclick: () => showResult(job) }));
  buttons.append(el("button", { type: "button", class: "danger", text: "Delete", onclick: () => removeJob(job.id) }));
  return el("li", { "data-job": job.id, "data-state": job.state, class: job.id === state.current ? "current" : "" },
    el("div", { class: "name", title: job.name }, job.name, el("span", { class: `badge ${job.state}`, text: job.state })),
    el("div", { class: "meta", text: jobMeta(job) }),
    buttons);
}

function updateJobItem(job) {
  const old = document.querySelector(`#job-list li[data-job="${job.id}"]`);
  if (old) old.replaceWith(jobItem(job));
}

function markCurrent() {
  for (const li of document.querySelectorAll("#job-list li")) li.classList.toggle("current", li.dataset.job === state.current);
}

async function refreshJobs() {
  try {
    const { jobs } = await fetchJSON("/api/jobs");
    $("job-list").replaceChildren(...jobs.map(jobItem));
    $("no-jobs").hidden = jobs.length > 0;
    if (state.current && !jobs.some((j) => j.id === state.current)) {
      state.current = null;
      $("result").hidden = true;
    }
  } catch (err) {
    /* the next refresh will tell */
  }
}

async function removeJob(jobId) {
  try {
    await fetchJSON(`/api/jobs/${jobId}`, { method: "DELETE" });
  } catch (err) {
    if (err.status !== 404) showError("Could not delete the job.", err.message);
  }
  if (state.current === jobId) {
    if (state.source) state.source.close();
    $("result-video").removeAttribute("src");
    $("result").hidden = true;
    hideProgress();
  }
  refreshJobs();
}

// -- start ---------------------------------------------------------------------------------------

async function init() {
  try {
    state.config = await fetchJSON("/api/config");
    $("limits").textContent = `MP4, AVI, MKV, MOV or WebM · up to ${state.config.max_upload}`;
    if (state.config.job_ttl_s) {
      const h = state.config.job_ttl_s / 3600;
      $("ttl").textContent = h >= 1 ? `${+h.toFixed(1)} h` : `${Math.round(state.config.job_ttl_s / 60)} min`;
    }
    if (!state.config.cameras.length) $("nav-live").title = "no cameras on this server";
  } catch (err) {
    showError("The server is not answering.", err.message);
  }
  const input = $("file-input");
  input.addEventListener("change", () => choose(input.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });
  $("upload-form").addEventListener("submit", upload);
  $("result-video").addEventListener("timeupdate", movePlayhead);
  await refreshJobs();
  const running = document.querySelector('#job-list li[data-state="running"], #job-list li[data-state="queued"]');
  if (running) watch(running.dataset.job);
  setInterval(refreshJobs, 4000);
}

init();
