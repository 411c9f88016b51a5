"""The rollout-middleware demo: ``python examples/server.py [--port N]``, then open http://127.0.0.1:8000.

A Starlette app with a login form for a few demo users (Starlette's ``SessionMiddleware``),
``RolloutTokenMiddleware`` at ``/rollout-token`` resolving the session's user, and two pages:

- ``/``: plain JavaScript, no build step. It fetches a token the way Rollout's React guide does, shows
  its decoded claims with a live countdown to expiry, calls Rollout's ``/credentials`` with it, and
  fetches a new token when the API answers 401.
- ``/react``: Rollout's own ``@rollout/link-react`` client, built from ``examples/react-link``.

Without ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET`` in the environment it makes throwaway demo
credentials and mounts :class:`rollout_middleware.testing.RolloutAPIStandIn` at ``/rollout-api``, so
everything runs offline. With real credentials the pages call Rollout's API (``--api-base-url``);
``--stand-in`` keeps the local stand-in with your credentials.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rollout_middleware import RequestInfo, RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user
from rollout_middleware.testing import RolloutAPIStandIn

ROLLOUT_API = "https://universal.rollout.com/api"
STAND_IN_PATH = "/rollout-api"
REACT_DIST = Path(__file__).resolve().parent / "react-link" / "dist"

#: Demo users: user id (the token's ``sub``) -> display name.
USERS = {
    "user-ada": "Ada Lovelace",
    "user-grace": "Grace Hopper",
    "user-alan": "Alan Turing",
}


@dataclass(frozen=True)
class DemoConfig:
    client_id: str
    client_secret: str
    api_base_url: str
    stand_in: bool
    demo_credentials: bool
    ttl: int = 900


def seed(stand_in: RolloutAPIStandIn) -> None:
    """Give the demo users a few connected systems in the stand-in."""
    stand_in.add_credential("user-ada", "follow-up-boss", label="Ada's Follow Up Boss")
    stand_in.add_credential("user-ada", "dotloop", label="Lovelace Realty on dotloop")
    stand_in.add_credential("user-grace", "hubspot", label="Hopper & Co. HubSpot")
    stand_in.add_credential("user-grace", "gmail", label="grace@hopper.example")


# -- pages ----------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#4f46e5; --accent-soft:#eef2ff;
  --ok:#059669; --warn:#d97706; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--ink); background:linear-gradient(180deg,#f5f7ff 0,#f8fafc 320px); min-height:100vh; }
header.bar { display:flex; align-items:center; gap:16px; padding:14px 28px; background:#fff;
  border-bottom:1px solid var(--line); }
.brand { font-weight:700; font-size:17px; display:flex; align-items:center; gap:10px; }
.logo { width:28px; height:28px; border-radius:8px; background:linear-gradient(135deg,#6366f1,#06b6d4); }
nav { display:flex; gap:4px; margin-left:12px; }
nav a { color:var(--muted); text-decoration:none; padding:6px 12px; border-radius:8px; font-weight:500; }
nav a.active, nav a:hover { color:var(--accent); background:var(--accent-soft); }
.who { margin-left:auto; display:flex; align-items:center; gap:12px; color:var(--muted); }
.who b { color:var(--ink); }
.avatar { width:32px; height:32px; border-radius:50%; display:grid; place-items:center; color:#fff;
  font-weight:700; font-size:13px; background:var(--accent); }
main { max-width:1040px; margin:28px auto; padding:0 24px; }
h1 { font-size:26px; margin:0 0 4px; }
.lead { color:var(--muted); margin:0 0 24px; }
.grid { display:grid; grid-template-columns: 1fr 1fr; gap:20px; }
@media (max-width: 860px) { .grid { grid-template-columns: 1fr; } }
.card { background:#fff; border:1px solid var(--line); border-radius:14px; padding:20px 22px;
  box-shadow:0 1px 2px rgba(16,24,40,.04), 0 4px 16px rgba(16,24,40,.04); }
.card h2 { font-size:16px; margin:0 0 14px; display:flex; align-items:center; gap:8px; }
.card h2 .step { width:22px; height:22px; border-radius:50%; background:var(--accent-soft);
  color:var(--accent); font-size:12px; display:grid; place-items:center; }
.wide { grid-column: 1 / -1; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:13px; }
.token { word-break:break-all; background:#0f172a; color:#e2e8f0; border-radius:10px; padding:12px 14px;
  max-height:88px; overflow:hidden; position:relative; }
.token .h { color:#f472b6; } .token .p { color:#a5b4fc; } .token .s { color:#5eead4; }
table.claims { width:100%; border-collapse:collapse; margin-top:14px; }
table.claims td { padding:7px 0; border-bottom:1px solid var(--line); vertical-align:top; }
table.claims td:first-child { width:56px; font-weight:600; }
table.claims td.note { color:var(--muted); text-align:right; }
.countdown { display:flex; align-items:baseline; gap:10px; margin-top:16px; }
.countdown .big { font-size:30px; font-weight:700; font-variant-numeric: tabular-nums; }
.meter { height:8px; border-radius:99px; background:var(--line); overflow:hidden; margin-top:8px; }
.meter > div { height:100%; background:linear-gradient(90deg,#22c55e,#16a34a); transition:width .9s linear; }
.meter.low > div { background:linear-gradient(90deg,#f59e0b,#d97706); }
.meter.gone > div { background:var(--bad); }
button, .button { font:inherit; font-weight:600; border:1px solid var(--line); background:#fff;
  color:var(--ink); padding:8px 14px; border-radius:9px; cursor:pointer; text-decoration:none;
  display:inline-flex; align-items:center; gap:6px; }
button:hover, .button:hover { border-color:#c7d2fe; background:#f8faff; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.primary:hover { background:#4338ca; }
button.danger { color:var(--bad); }
.actions { display:flex; flex-wrap:wrap; gap:8px; margin-top:18px; }
.pill { font-size:12px; font-weight:600; padding:2px 9px; border-radius:99px; background:var(--line); }
.pill.ok { background:#d1fae5; color:#065f46; } .pill.bad { background:#fee2e2; color:#991b1b; }
.pill.wait { background:#fef3c7; color:#92400e; }
ul.creds { list-style:none; margin:0; padding:0; }
ul.creds li { display:flex; align-items:center; gap:12px; padding:10px 0; border-bottom:1px solid var(--line); }
ul.creds li:last-child { border-bottom:0; }
ul.creds img { width:36px; height:36px; border-radius:9px; }
ul.creds .meta { color:var(--muted); font-size:13px; }
.empty { color:var(--muted); padding:14px; text-align:center; border:1px dashed var(--line); border-radius:10px; }
ol.log { list-style:none; margin:0; padding:0; max-height:240px; overflow:auto; }
ol.log li { display:flex; gap:10px; padding:5px 0; border-bottom:1px dashed var(--line); font-size:13.5px; }
ol.log time { color:var(--muted); font-variant-numeric: tabular-nums; flex:none; }
.banner { background:#fffbeb; border:1px solid #fde68a; color:#92400e; padding:10px 14px;
  border-radius:10px; margin-bottom:20px; font-size:14px; }
.login { max-width:440px; margin:8vh auto; }
.users { display:grid; gap:10px; margin-top:16px; }
.users button { justify-content:flex-start; padding:12px 14px; gap:12px; width:100%; }
.users button small { color:var(--muted); font-weight:400; margin-left:auto; }
footer { color:var(--muted); text-align:center; font-size:13px; margin:32px 0; }
"""

FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='8' fill='%234f46e5'/%3E%3C/svg%3E"
)
INITIAL_COLOURS = {"user-ada": "#7c3aed", "user-grace": "#0891b2", "user-alan": "#059669"}


def _json_for_script(value: object) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _layout(title: str, body: str, *, user_id: str | None, active: str, config: DemoConfig) -> str:
    nav = ""
    who = ""
    if user_id is not None:
        name = USERS[user_id]
        links = [("/", "Plain JavaScript"), ("/react", "React + @rollout/link-react")]
        nav = (
            "<nav>"
            + "".join(
                f'<a href="{href}" class="{"active" if href == active else ""}">{label}</a>'
                for href, label in links
            )
            + "</nav>"
        )
        who = (
            f'<div class="who"><span class="avatar" style="background:{INITIAL_COLOURS[user_id]}">'
            f"{html.escape(name[0])}</span><span>Signed in as <b>{html.escape(name)}</b></span>"
            '<form method="post" action="/logout"><button id="logout">Log out</button></form></div>'
        )
    banner = ""
    if config.demo_credentials:
        banner = (
            '<div class="banner"><b>Demo mode.</b> No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET were '
            "set, so the tokens are signed with throwaway credentials and checked by a local "
            f"stand-in of Rollout's API at <code>{STAND_IN_PATH}</code>.</div>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)} · rollout-middleware demo</title><link rel="icon" href="{FAVICON}"><style>{CSS}</style></head>
<body><header class="bar"><div class="brand"><span class="logo"></span>rollout-middleware</div>{nav}{who}</header>
<main>{banner}{body}</main>
<footer>Tokens come from <code>RolloutTokenMiddleware</code> at <code>/rollout-token</code>;
the API is <code>{html.escape(config.api_base_url)}</code>.</footer></body></html>"""


def login_page(config: DemoConfig, next_page: str = "/") -> str:
    buttons = "".join(
        f'<button name="user_id" value="{uid}" data-user="{uid}">'
        f'<span class="avatar" style="background:{INITIAL_COLOURS[uid]}">{name[0]}</span>'
        f"{html.escape(name)}<small class='mono'>{uid}</small></button>"
        for uid, name in USERS.items()
    )
    body = f"""<div class="card login"><h1>Sign in</h1>
<p class="lead">Pick a demo user. The app keeps who you are in its own session cookie; Rollout
only ever sees a short-lived token whose <code>sub</code> is your user id.</p>
<form method="post" action="/login" class="users">
<input type="hidden" name="next" value="{html.escape(next_page)}">{buttons}</form></div>"""
    return _layout("Sign in", body, user_id=None, active="", config=config)


PLAIN_BODY = """<h1>Your Rollout token, live</h1>
<p class="lead">This page has no build step. It gets a token from <code>/rollout-token</code> exactly
like Rollout's guide, calls Rollout's <code>/credentials</code> with it, and fetches a new token when
the API answers 401 — what <code>@rollout/link-react</code> does.</p>
<div class="grid">
 <section class="card">
  <h2><span class="step">1</span>Token from <code>/rollout-token</code> <span id="token-state" class="pill wait">fetching…</span></h2>
  <div id="token" class="token mono">…</div>
  <table class="claims">
   <tr><td>iss</td><td id="claim-iss" class="mono"></td><td class="note">your client id</td></tr>
   <tr><td>sub</td><td id="claim-sub" class="mono"></td><td class="note">your user id</td></tr>
   <tr><td>iat</td><td id="claim-iat" class="mono"></td><td class="note">issued at</td></tr>
   <tr><td>exp</td><td id="claim-exp" class="mono"></td><td class="note">expires at</td></tr>
  </table>
  <div class="countdown"><span class="big" id="countdown">--:--</span><span id="countdown-note" class="meta">until expiry</span></div>
  <div class="meter" id="meter"><div style="width:100%"></div></div>
  <div class="actions"><button id="new-token">Fetch a new token</button></div>
 </section>
 <section class="card">
  <h2><span class="step">2</span>Rollout API: <code>GET /credentials</code> <span id="api-state" class="pill wait">waiting…</span></h2>
  <div id="credentials"><div class="empty">Loading…</div></div>
  <div class="actions">
   <button class="primary" id="call-api">Call the API again</button>
   <button class="danger" id="simulate-expiry" hidden>Simulate expiry</button>
  </div>
 </section>
 <section class="card wide">
  <h2><span class="step">3</span>What happened</h2>
  <ol class="log" id="log"></ol>
 </section>
</div>
<script type="application/json" id="demo-config">__CONFIG__</script>
<script>
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
</script>"""


REACT_BODY = """<h1>Rollout's own client: <code>@rollout/link-react</code></h1>
<p class="lead"><code>RolloutLinkProvider</code> gets its token from <code>/rollout-token</code>;
<code>useCredentials()</code> and <code>CredentialsManager</code> call the API with it.</p>
<div id="root"><div class="card"><div class="empty">Loading the React bundle…</div></div></div>
<script type="application/json" id="demo-config">__CONFIG__</script>
<link rel="stylesheet" href="/react-link/app.css">
<script type="module" src="/react-link/app.js"></script>"""

REACT_MISSING_BODY = """<h1>The React page is not built yet</h1>
<div class="card"><p>It uses Rollout's published <code>@rollout/link-react</code> from npm. Build it
once (Node.js 18+):</p>
<pre class="token mono">cd examples/react-link
npm ci
npm run build</pre>
<p>then reload this page. The plain JavaScript page at <a href="/">/</a> needs no build.</p></div>"""


# -- the app --------------------------------------------------------------------------------------


PAGES = ("/", "/react")


def safe_next(value: object) -> str:
    """Where to go after logging in: one of this app's pages, never another site."""
    return value if isinstance(value, str) and value in PAGES else "/"


def build_app(config: DemoConfig) -> Starlette:
    stand_in: RolloutAPIStandIn | None = None
    if config.stand_in:
        stand_in = RolloutAPIStandIn(config.client_id, config.client_secret, expose_controls=True)
        seed(stand_in)

    page_config = {
        "apiBaseUrl": config.api_base_url,
        "standInControls": stand_in is not None,
    }

    def current_user(request: Request) -> str | None:
        user_id = request.session.get("user_id")
        return user_id if user_id in USERS else None

    def page(request: Request, title: str, body: str, active: str) -> Response:
        user_id = current_user(request)
        if user_id is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        config_json = _json_for_script(
            {**page_config, "user": {"id": user_id, "name": USERS[user_id]}}
        )
        content = _layout(
            title,
            body.replace("__CONFIG__", config_json),
            user_id=user_id,
            active=active,
            config=config,
        )
        return HTMLResponse(content)

    async def home(request: Request) -> Response:
        return page(request, "Plain JavaScript", PLAIN_BODY, "/")

    async def react(request: Request) -> Response:
        body = REACT_BODY if (REACT_DIST / "app.js").is_file() else REACT_MISSING_BODY
        return page(request, "React", body, "/react")

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(login_page(config, safe_next(request.query_params.get("next"))))
        form = await request.form()
        user_id = form.get("user_id")
        next_page = safe_next(form.get("next"))
        if not isinstance(user_id, str) or user_id not in USERS:
            return HTMLResponse(login_page(config, next_page), status_code=400)
        request.session.clear()
        request.session["user_id"] = user_id
        return RedirectResponse(next_page, status_code=303)

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    def on_issue(user_id: str, expires_at: int, info: RequestInfo) -> None:
        print(f"issued a Rollout token for sub={user_id!r}, expires at {expires_at}", flush=True)

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/react", react),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/react-link", app=StaticFiles(directory=REACT_DIST, check_dir=False)),
    ]
    if stand_in is not None:
        routes.append(Mount(STAND_IN_PATH, app=stand_in))
    app = Starlette(
        routes=routes,
        middleware=[
            # The session must be read before the token middleware asks who the user is.
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_urlsafe(32),
                session_cookie="demo_session",
                same_site="lax",
            ),
            Middleware(
                RolloutTokenMiddleware,
                resolve_user=session_user("user_id"),
                client_id=config.client_id,
                client_secret=config.client_secret,
                ttl=config.ttl,
                on_issue=on_issue,
            ),
        ],
    )
    app.state.stand_in = stand_in
    return app


def load_config(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> DemoConfig:
    client_id = environ.get("ROLLOUT_CLIENT_ID", "")
    client_secret = environ.get("ROLLOUT_CLIENT_SECRET", "")
    demo = not (client_id and client_secret)
    if demo:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
    stand_in = demo or args.stand_in
    if stand_in:
        api_base_url = STAND_IN_PATH
    else:
        api_base_url = args.api_base_url or environ.get("ROLLOUT_API_BASE_URL", "") or ROLLOUT_API
    return DemoConfig(client_id, client_secret, api_base_url, stand_in, demo, args.ttl)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttl", type=int, default=900, help="token lifetime in seconds (900)")
    parser.add_argument(
        "--api-base-url",
        help=f"Rollout API base URL with real credentials (default $ROLLOUT_API_BASE_URL or {ROLLOUT_API})",
    )
    parser.add_argument(
        "--stand-in",
        action="store_true",
        help=f"serve the local Rollout API stand-in at {STAND_IN_PATH} even with real credentials",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    config = load_config(args, os.environ)
    if config.demo_credentials:
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO credentials "
            f"and a local stand-in of Rollout's API at {STAND_IN_PATH}. Rollout itself would "
            "not accept these tokens. ***",
            file=sys.stderr,
            flush=True,
        )
    print(f"Open http://{args.host}:{args.port}/ (Ctrl+C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(
        build_app(config),
        host=args.host,
        port=args.port,
        access_log=not args.quiet,
        log_level="warning" if args.quiet else "info",
    )


if __name__ == "__main__":
    main()
