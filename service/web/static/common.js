// Helpers shared by the upload page and the live page. Text from the server (file names, error
// messages) is only ever set with textContent, never parsed as HTML.
"use strict";

// Labels come from the model (any label set). Colours are handed out in the order labels are first
// met on the page; a page that knows the model's labels meets them first (knowLabels), in the
// model's order, so a label keeps its colour from one result to the next.
const LABEL_PALETTE = ["#e8590c", "#f08c00", "#c92a2a", "#1971c2", "#0ca678", "#7048e8", "#d6336c", "#5c940d"];
const labelColours = new Map();

function knowLabels(labels) {
  for (const label of labels || []) labelColour(label);
}

// A window that names none of the model's actions has label null: drawn grey, called "no action".
const NO_ACTION_COLOUR = "#868e96";

function labelColour(label) {
  if (label === null || label === undefined) return NO_ACTION_COLOUR;
  if (!labelColours.has(label)) {
    const i = labelColours.size;
    labelColours.set(label, i < LABEL_PALETTE.length ? LABEL_PALETTE[i] : `hsl(${(i * 137.5) % 360}, 60%, 45%)`);
  }
  return labelColours.get(label);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmtTime(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const m = Math.floor(seconds / 60);
  const s = seconds - 60 * m;
  return m ? `${m}:${s.toFixed(1).padStart(4, "0")}` : `${s.toFixed(1)} s`;
}

function fmtSize(bytes) {
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} bytes`;
}

function prettyLabel(label) {
  if (label === null || label === undefined) return "no action";
  return String(label).replaceAll("_", " ").toLowerCase();
}

// The session ended (or the server now wants its token): to the login page, then back here.
function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

async function fetchJSON(url, options) {
  const response = await fetch(url, options);
  if (response.status === 401) toLogin();
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `${response.status} ${response.statusText}`;
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return body;
}
