// Greenlight dashboard: loads Release rows rendered by the server, follows the event stream,
// and sends actions to the API. Plain JavaScript, no build step.
"use strict";

const TOKEN_KEY = "greenlight.token";
const table = document.getElementById("releases");
const notice = document.getElementById("notice");
const live = document.getElementById("live");
const authMode = document.body.dataset.auth;
let streamGeneration = 0; // bumped to stop an old stream when the token changes

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function authHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  if (authMode === "tokenreview" && token()) headers.Authorization = "Bearer " + token();
  return headers;
}

function say(text) {
  notice.textContent = text;
}

function problem(data, resp) {
  if (data && typeof data.message === "string") return data.message;
  if (data && typeof data.detail === "string") return data.detail;
  return resp.status + " " + resp.statusText;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseRows(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return Array.from(template.content.querySelectorAll("tbody.release"));
}

function openDetails(tbody) {
  return tbody ? Array.from(tbody.querySelectorAll("details[open]")).map((d) => d.dataset.key) : [];
}

function reopen(tbody, keys) {
  for (const key of keys) {
    const details = tbody.querySelector('details[data-key="' + key + '"]');
    if (details) details.open = true;
  }
}

function updateEmpty() {
  document.getElementById("empty").classList.toggle("hidden", !!table.querySelector("tbody.release"));
}

async function loadAll() {
  if (authMode === "tokenreview" && !token()) {
    say("Enter a token to see releases.");
    return false;
  }
  let resp;
  try {
    resp = await fetch("/ui/releases", { headers: authHeaders() });
  } catch (err) {
    say("Cannot reach the service; retrying.");
    return false;
  }
  if (!resp.ok) {
    const data = await resp.json().catch(() => null);
    say("Cannot load releases: " + problem(data, resp));
    return false;
  }
  const fresh = parseRows(await resp.text());
  const opened = new Map();
  for (const old of table.querySelectorAll("tbody.release")) {
    opened.set(old.id, openDetails(old));
    old.remove();
  }
  for (const tbody of fresh) {
    reopen(tbody, opened.get(tbody.id) || []);
    table.appendChild(tbody);
  }
  updateEmpty();
  say("");
  return true;
}

function place(tbody) {
  // Keep rows ordered by namespace, then name, as the server renders them.
  const key = tbody.dataset.namespace + "/" + tbody.dataset.name;
  for (const other of table.querySelectorAll("tbody.release")) {
    if (other.dataset.namespace + "/" + other.dataset.name > key) {
      table.insertBefore(tbody, other);
      return;
    }
  }
  table.appendChild(tbody);
}

const refreshing = new Map(); // key -> promise, so a burst of changes costs one fetch

function refreshOne(namespace, name) {
  const key = namespace + "/" + name;
  if (refreshing.has(key)) return refreshing.get(key);
  const done = (async () => {
    await sleep(50);
    refreshing.delete(key); // a change from now on needs another fetch
    try {
      await replaceOne(namespace, name);
    } catch (err) {
      // The service is unreachable: the event stream reconnects and reloads everything.
    }
  })();
  refreshing.set(key, done);
  return done;
}

async function replaceOne(namespace, name) {
  const path = "/ui/namespaces/" + encodeURIComponent(namespace) + "/releases/" + encodeURIComponent(name);
  const resp = await fetch(path, { headers: authHeaders() });
  const old = document.getElementById("release-" + namespace + "." + name);
  if (resp.status === 404) {
    if (old) old.remove();
    updateEmpty();
    return;
  }
  if (!resp.ok) return;
  const [tbody] = parseRows(await resp.text());
  if (!tbody) return;
  const result = old && old.querySelector("output.result");
  reopen(tbody, openDetails(old));
  if (result && result.textContent) {
    const fresh = tbody.querySelector("output.result");
    fresh.textContent = result.textContent;
    fresh.className = result.className;
  }
  if (old) old.replaceWith(tbody);
  else place(tbody);
  updateEmpty();
}

function handleEvent(kind, data) {
  if (kind === "ready") {
    live.textContent = "live";
    live.classList.replace("off", "on");
    loadAll(); // catch up on whatever changed before the stream was open
  } else if (kind === "end") {
    const end = JSON.parse(data);
    streamEnd = end && typeof end.reason === "string" ? end.reason : "";
  } else if (kind === "release") {
    const change = JSON.parse(data);
    const release = change.release;
    if (change.type === "DELETED") {
      const old = document.getElementById("release-" + release.namespace + "." + release.name);
      if (old) old.remove();
      updateEmpty();
    } else {
      refreshOne(release.namespace, release.name);
    }
  }
}

let streamEnd = ""; // the reason of the last `end` event

async function follow() {
  const mine = ++streamGeneration;
  while (mine === streamGeneration) {
    streamEnd = "";
    if (authMode === "tokenreview" && !token()) return;
    try {
      const resp = await fetch("/api/v1/events", { headers: authHeaders({ Accept: "text/event-stream" }) });
      if (resp.status === 401 || resp.status === 403) {
        const data = await resp.json().catch(() => null);
        say("Live updates refused: " + problem(data, resp));
        return;
      }
      if (!resp.ok || !resp.body) throw new Error("stream answered " + resp.status);
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      while (mine === streamGeneration) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let kind = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) handleEvent(kind, data.join("\n"));
        }
      }
      reader.cancel().catch(() => {});
    } catch (err) {
      // The service restarted or the network dropped: try again shortly.
    }
    live.textContent = "reconnecting…";
    live.classList.replace("on", "off");
    // A stream ends after a while by design (`expired`): open the next one at once.
    if (streamEnd !== "expired") await sleep(2000);
  }
}

async function act(button) {
  const tbody = button.closest("tbody.release");
  const output = tbody.querySelector("output.result");
  const action = button.dataset.action;
  const path = "/api/v1/namespaces/" + encodeURIComponent(tbody.dataset.namespace) +
    "/releases/" + encodeURIComponent(tbody.dataset.name) + "/" + action;
  const init = { method: "POST", headers: authHeaders({ "Content-Type": "application/json" }) };
  if (action === "rollback") init.body = JSON.stringify({ revision: Number(button.dataset.revision) });
  button.disabled = true;
  output.textContent = action + "…";
  try {
    const resp = await fetch(path, init);
    const data = await resp.json().catch(() => null);
    output.textContent = resp.ok ? action + " accepted: " + data.description : action + " refused: " + problem(data, resp);
    output.className = "result " + (resp.ok ? "ok" : "refused");
  } catch (err) {
    output.textContent = action + " failed: " + err;
    output.className = "result refused";
  }
  refreshOne(tbody.dataset.namespace, tbody.dataset.name);
}

table.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button && !button.disabled) act(button);
});

const form = document.getElementById("token-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    loadAll().then((ok) => { if (ok) follow(); });
  });
  document.getElementById("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    streamGeneration++;
    for (const old of table.querySelectorAll("tbody.release")) old.remove();
    updateEmpty();
    say("Token forgotten.");
  });
}

(async () => {
  if (document.body.dataset.rendered !== "yes") {
    while (!(await loadAll())) {
      if (authMode === "tokenreview" && !token()) return;
      await sleep(2000);
    }
  }
  follow();
})();
