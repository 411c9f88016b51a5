// The plain JavaScript page (templates/plain.html): no build step. It reads the page's
// <script id="demo-config"> JSON (the API base URL, the user), fetches tokens from /rollout-token
// as Rollout's React guide does, and calls Rollout's API with them.
const config = JSON.parse(document.getElementById("demo-config").textContent);
const $ = (id) => document.getElementById(id);

// The token function, shaped like Rollout's React guide: fetch our endpoint, return the token.
const fetchRolloutToken = () =>
  fetch("/rollout-token").then((r) => {
    if (!r.ok) throw new Error(`/rollout-token answered ${r.status}`);
    return r.json();
  }).then((d) => d.token);

// Like RolloutLinkProvider: keep one token promise; drop it only when the API answers 401.
let tokenPromise = null;
let claims = null;
let lastToken = null;
function getToken() {
  if (tokenPromise === null) {
    log("GET /rollout-token …");
    tokenPromise = fetchRolloutToken().then(showToken, (err) => {
      tokenPromise = null;
      setPill("token-state", "bad", "failed");
      log(`Token fetch failed: ${err.message}`);
      throw err;
    });
  }
  return tokenPromise;
}

async function callRollout(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    const token = await getToken();
    const response = await fetch(config.apiBaseUrl + path, {
      ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` },
    });
    if (response.status === 401 && attempt === 0) {
      const body = await response.json().catch(() => ({}));
      const message = body.errors?.[0]?.message ?? "401";
      log(`GET ${path} → 401 “${message}”: fetching a new token and retrying`, "bad");
      tokenPromise = null;
      continue;
    }
    return response;
  }
}

function decodeClaims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
  return JSON.parse(text);
}

function showToken(token) {
  claims = decodeClaims(token);
  const [h, p, s] = token.split(".");
  $("token").innerHTML = "";
  for (const [cls, text] of [["h", h], ["", "."], ["p", p], ["", "."], ["s", s]]) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    $("token").append(span);
  }
  $("token").dataset.token = token;
  $("claim-iss").textContent = claims.iss;
  $("claim-sub").textContent = claims.sub;
  $("claim-iat").textContent = `${claims.iat}  (${new Date(claims.iat * 1000).toLocaleTimeString()})`;
  $("claim-exp").textContent = `${claims.exp}  (${new Date(claims.exp * 1000).toLocaleTimeString()})`;
  setPill("token-state", "ok", "valid");
  const same = token === lastToken ? " (the same as before: minted within the same second)" : "";
  lastToken = token;
  log(`Got a token for sub “${claims.sub}”, valid ${claims.exp - claims.iat} s (…${s.slice(-8)})${same}`, "ok");
  tick();
  return token;
}

function tick() {
  if (!claims) return;
  const left = Math.max(0, Math.round(claims.exp - Date.now() / 1000));
  const total = claims.exp - claims.iat;
  $("countdown").textContent = `${String(Math.floor(left / 60)).padStart(2, "0")}:${String(left % 60).padStart(2, "0")}`;
  $("countdown").dataset.seconds = String(left);
  $("countdown-note").textContent = left > 0 ? "until expiry" : "expired: the next API call gets a 401";
  const meter = $("meter");
  meter.firstElementChild.style.width = `${(100 * left) / total}%`;
  meter.className = "meter" + (left === 0 ? " gone" : left < total / 5 ? " low" : "");
  if (left === 0) setPill("token-state", "bad", "expired");
}
setInterval(tick, 1000);

function setPill(id, kind, text) {
  $(id).className = `pill ${kind}`;
  $(id).textContent = text;
}

function log(text, kind = "") {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  const span = document.createElement("span");
  span.textContent = text;
  if (kind) span.className = `pill ${kind}`;
  li.append(time, span);
  $("log").prepend(li);
}

async function loadCredentials() {
  setPill("api-state", "wait", "calling…");
  try {
    const response = await callRollout("/credentials?includeProfile=true");
    const body = await response.json();
    if (!response.ok) throw new Error(body.errors?.[0]?.message ?? `status ${response.status}`);
    setPill("api-state", "ok", `${response.status} OK`);
    log(`GET /credentials → ${response.status}: ${body.length} credential(s) for “${claims.sub}”`, "ok");
    renderCredentials(body);
  } catch (err) {
    setPill("api-state", "bad", "failed");
    log(`GET /credentials failed: ${err.message}`, "bad");
  }
}

function renderCredentials(list) {
  const box = $("credentials");
  box.innerHTML = "";
  if (list.length === 0) {
    box.innerHTML = '<div class="empty">No connected systems yet. Connect one on the React page.</div>';
    return;
  }
  const ul = document.createElement("ul");
  ul.className = "creds";
  for (const c of list) {
    const li = document.createElement("li");
    li.dataset.appKey = c.appKey;
    const img = document.createElement("img");
    img.src = `${config.apiBaseUrl}/connectors/${encodeURIComponent(c.appKey)}/icon`;
    img.alt = "";
    const text = document.createElement("div");
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = c.label ?? c.appKey;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${c.appKey} · connected ${new Date(c.createdAt).toLocaleDateString()}`;
    text.append(label, meta);
    li.append(img, text);
    ul.append(li);
  }
  box.append(ul);
}

$("call-api").onclick = loadCredentials;
$("new-token").onclick = () => { tokenPromise = null; getToken().catch(() => {}); };
if (config.standInControls) {
  $("simulate-expiry").hidden = false;
  $("simulate-expiry").onclick = async () => {
    await fetch(`${config.apiBaseUrl}/_stand-in/force-401?n=1`, { method: "POST" });
    log("The stand-in will answer the next call with 401, as if the token had expired");
    loadCredentials();
  };
}
loadCredentials();
