// The status page's script (served as /page.js: the page's CSP allows no
// inline script). Reads /status every 3 s and draws it; posts overrides.
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, String(v));
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k === null || k === undefined ? "" : String(k)));
  return e;
}
function token() { return sessionStorage.getItem("dnslb-token") || ""; }
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}
function ago(t, now) {
  if (t === null || t === undefined) return "never";
  const s = Math.max(0, Math.round(now - t));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
// A domain name with exactly one trailing dot ("." for the root).
function fqdn(n) { return String(n || "").replace(/\.+$/, "") + "."; }
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"; }

async function force(endpoint, state) {
  $("problem").textContent = "";
  try {
    const r = await fetch("/overrides", {
      method: "POST",
      headers: headers({"Content-Type": "application/json"}),
      body: JSON.stringify({endpoint, state}),
    });
    if (r.status === 401) { needToken(); return; }
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      $("problem").textContent = "could not set " + endpoint + " " + state + ": " + (body.error || r.status)
        + (body.candidates ? " (" + body.candidates.join(", ") + ")" : "");
    }
  } catch (e) {
    $("problem").textContent = "request failed: " + e;
  }
  refresh();
}

function needToken() {
  $("login").classList.add("shown");
  $("meta").textContent = "token required";
}

function endpointRow(ep, now) {
  const tr = el("tr", {
    "data-address": ep.address, "data-endpoint": ep.endpoint, "data-health": ep.health,
    "data-availability": ep.availability, "data-forced": ep.forced || "",
  });
  tr.append(el("td", {}, ep.address6 ? ep.address + " + " + ep.address6 : ep.address));
  tr.append(el("td", {}, ep.name || ""));
  tr.append(el("td", {}, el("span", {class: "badge " + ep.availability}, ep.availability)));
  const st = el("td", {class: "h-" + ep.health}, ep.health);
  tr.append(st);
  tr.append(el("td", {}, ep.forced ? el("span", {class: "forced"}, "forced " + ep.forced) : (ep.file_state !== "auto" ? "file: " + ep.file_state : "auto")));
  tr.append(el("td", {}, ep.weight));
  tr.append(el("td", {}, (ep.rtt_ms === null ? "–" : ep.rtt_ms.toFixed(1) + " ms") + (ep.load == null ? "" : ", load " + ep.load)));
  tr.append(el("td", {}, pct(ep.answer_share)));
  tr.append(el("td", {}, ep.check ? ago(ep.last_change, now) : "–"));
  // The last error stays in /status after the endpoint recovers: shown
  // muted then, so it does not read as a current failure.
  const stale = ep.last_error && ep.health === "up" && !ep.consecutive_failures;
  tr.append(el("td", {class: stale ? "stale" : "err", "data-stale": stale ? "1" : null},
    ep.last_error ? (stale ? "resolved: " : "") + ep.last_error : ""));
  const actions = el("td", {});
  if (ep.forced) {
    const b = el("button", {"data-action": "auto"}, "restore");
    b.onclick = () => force(ep.endpoint, "auto");
    actions.append(b);
  } else {
    const b = el("button", {"data-action": "drain"}, "drain");
    b.onclick = () => force(ep.endpoint, "drain");
    actions.append(b);
  }
  tr.append(actions);
  return tr;
}

// Zones with errors (their error text), other errors of the last reload,
// and settings changed in dnslb.toml that wait for a restart.
function renderProblems(doc) {
  const box = $("problems");
  box.replaceChildren();
  const seen = new Set();
  for (const z of doc.zones) {
    if (z.state === "loaded" && !z.errors.length) continue;
    const what = z.state === "previous" ? "has errors; the previous version is served"
      : z.state === "failed" ? "has errors; not served" : "has errors";
    const d = el("div", {class: "problems", "data-zone": fqdn(z.zone), "data-state": z.state},
      "zone " + fqdn(z.zone) + " (" + z.file + ") " + what);
    const ul = el("ul", {});
    for (const e of z.errors) { seen.add(e); ul.append(el("li", {}, e)); }
    d.append(ul);
    box.append(d);
  }
  const last = doc.reloads.last;
  if (last) {
    const rest = last.errors.filter((e) => !seen.has(e));
    if (last.outcome !== "ok" && rest.length) {
      const d = el("div", {class: "problems", id: "reload-errors"},
        "last reload (" + last.cause + ", " + ago(last.at, doc.now) + "): " + last.outcome);
      const ul = el("ul", {});
      for (const e of rest) ul.append(el("li", {}, e));
      d.append(ul);
      box.append(d);
    }
    if (last.restart_needed.length) {
      const d = el("div", {class: "problems notice", id: "restart-needed"},
        "changed settings that take effect only after a restart:");
      const ul = el("ul", {});
      for (const e of last.restart_needed) ul.append(el("li", {}, e));
      d.append(ul);
      box.append(d);
    }
  }
}

function render(doc) {
  const now = doc.now;
  $("login").classList.remove("shown");
  $("meta").textContent = "version " + doc.version + " · " + (doc.ready ? "ready" : "NOT READY") + " · " +
    doc.zones.length + " zone(s) · " + doc.names.length + " load-balanced name(s) · shares over the last " +
    Math.round(doc.share_window_seconds) + " s · reloads " + doc.reloads.ok + " ok, " + doc.reloads.failed + " failed";
  renderProblems(doc);
  const ov = $("overrides");
  ov.replaceChildren();
  if (doc.overrides.length) {
    ov.append(el("h2", {}, "Overrides"));
    const t = el("table", {id: "override-table"}, el("tr", {}, el("th", {}, "endpoint"), el("th", {}, "state"), el("th", {}, "since"), el("th", {}, "matches"), el("th", {}, "")));
    for (const o of doc.overrides) {
      const b = el("button", {"data-action": "auto"}, "restore");
      b.onclick = () => force(o.endpoint, "auto");
      t.append(el("tr", {"data-override": o.endpoint}, el("td", {}, o.endpoint), el("td", {class: "forced"}, o.state),
        el("td", {}, ago(o.since, now)), el("td", {}, o.matches), el("td", {}, b)));
    }
    ov.append(t);
    if (!doc.state_file) ov.append(el("div", {class: "err"}, "overrides are not persisted (admin_state_file is not set): a restart forgets them"));
  }
  const names = $("names");
  names.replaceChildren();
  for (const n of doc.names) {
    const sec = el("section", {"data-name": fqdn(n.name)});
    sec.append(el("h2", {}, fqdn(n.name)), el("div", {class: "meta"},
      "policy " + n.policy + " · ttl " + n.ttl + " · answers " + n.answers + " · when all down: " + n.on_all_down));
    for (const p of n.pools) {
      sec.append(el("div", {class: "pool", "data-pool": p.pool}, "pool " + p.pool + " (" + p.role + ")"));
      const t = el("table", {}, el("tr", {}, ...["address", "name", "availability", "health", "override", "weight", "rtt", "answers", "last change", "last error", ""].map((h) => el("th", {}, h))));
      for (const ep of p.endpoints) t.append(endpointRow(ep, now));
      sec.append(t);
    }
    names.append(sec);
  }
  document.body.setAttribute("data-loaded", "1");
}

async function refresh() {
  try {
    const r = await fetch("/status", {headers: headers()});
    if (r.status === 401) { needToken(); return; }
    if (!r.ok) { $("problem").textContent = "GET /status: " + r.status; return; }
    $("problem").textContent = "";
    render(await r.json());
  } catch (e) {
    $("problem").textContent = "dnslb is not answering: " + e;
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("dnslb-token", $("token").value.trim());
  refresh();
});
refresh();
setInterval(refresh, 3000);
