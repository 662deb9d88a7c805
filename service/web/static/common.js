// Helpers shared by the upload page and the live page. Text from the server (file names, error
// messages) is only ever set with textContent, never parsed as HTML.
"use strict";

const LABEL_COLOURS = {
  JUMPING: "#e8590c",
  JUMPING_JACKS: "#f08c00",
  BOXING: "#c92a2a",
  WAVING_2HANDS: "#1971c2",
  WAVING_1HAND: "#0ca678",
  CLAPPING_HANDS: "#7048e8",
};

function labelColour(label) {
  if (LABEL_COLOURS[label]) return LABEL_COLOURS[label];
  let h = 0;
  for (const ch of String(label)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h}, 60%, 45%)`;
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
  return String(label || "").replaceAll("_", " ").toLowerCase();
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
