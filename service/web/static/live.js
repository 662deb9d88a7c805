// The live page: one card per camera with its MJPEG preview (skeletons and current actions drawn
// by the server), its state, the people in view and the latest segment/status events.
"use strict";

const cards = new Map();

function cameraCard(cam) {
  const img = el("img", { alt: `live preview of ${cam.id}`, "data-camera": cam.id });
  const waiting = el("div", { class: "waiting", text: "waiting for frames…" });
  img.addEventListener("load", () => { waiting.hidden = true; });
  img.addEventListener("error", () => {
    // The stream broke (server restart, network): try again shortly.
    waiting.hidden = false;
    setTimeout(() => { img.src = `${cam.mjpeg_url}?t=${Date.now()}`; }, 2000);
  });
  img.src = cam.mjpeg_url;
  const badge = el("span", { class: "badge", "data-role": "state" });
  const people = el("div", { class: "people" });
  const events = el("ul", { class: "events" });
  const card = el("section", { class: "card camera", "data-camera": cam.id },
    el("h2", {}, cam.id, badge),
    el("div", { class: "frame" }, img, waiting),
    people,
    el("h3", { text: "Latest events" }),
    events);
  return { card, badge, people, events };
}

function eventItem(e) {
  const at = new Date(e.at * 1000).toLocaleTimeString();
  if (e.type === "status") {
    return el("li", {}, el("time", { text: at }), "camera ", el("span", { class: `badge ${e.state}`, text: e.state }),
      e.reason ? ` ${e.reason}` : "");
  }
  const verb = e.type === "start" ? "started" : "ended";
  return el("li", {}, el("time", { text: at }), `person #${e.track_id} `,
    el("span", { class: "chip", style: { background: labelColour(e.label) }, text: prettyLabel(e.label) }),
    ` ${verb} (${Math.round(100 * e.confidence)} %)`);
}

function update(cam) {
  let parts = cards.get(cam.id);
  if (!parts) {
    parts = cameraCard(cam);
    cards.set(cam.id, parts);
    document.getElementById("cameras").append(parts.card);
  }
  parts.badge.className = `badge ${cam.state}`;
  parts.badge.textContent = cam.state;
  parts.card.dataset.state = cam.state;
  if (!cam.people.length) {
    parts.people.replaceChildren(el("span", { class: "muted", text: cam.frame ? "nobody in view" : "no frame yet" }));
  } else {
    parts.people.replaceChildren(el("span", { class: "muted", text: "In view: " }), ...cam.people.map((p) => el("span", { style: { marginRight: "12px" } },
      `#${p.track_id} `,
      p.label
        ? el("span", { class: "chip", style: { background: labelColour(p.label) }, text: `${prettyLabel(p.label)} ${Math.round(100 * p.confidence)} %` })
        : p.reason
          ? el("span", { class: "chip no-action", style: { background: labelColour(null) }, title: `no known action (${p.reason})`, text: "– no action" })
          : el("span", { class: "muted", text: "…" }))));
  }
  parts.events.replaceChildren(...(cam.events.length ? cam.events.map(eventItem) : [el("li", { class: "muted", text: "none yet" })]));
}

async function refresh() {
  try {
    const { cameras } = await fetchJSON("/api/cameras");
    document.getElementById("no-cameras").hidden = cameras.length > 0;
    cameras.forEach(update);
  } catch (err) {
    /* next round */
  }
}

refresh();
setInterval(refresh, 1000);
