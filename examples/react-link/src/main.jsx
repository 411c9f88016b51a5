// Rollout's own front-end client, fed by rollout_middleware's /rollout-token endpoint.
import { StrictMode, useState, useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import { CredentialsManager, RolloutLinkProvider, useCredentials } from "@rollout/link-react";
import "@rollout/link-react/style.css";

const config = JSON.parse(document.getElementById("demo-config").textContent);

// Every token our endpoint served to this page, so the page can show them.
const served = [];
const listeners = new Set();
const tokenStore = {
  subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  snapshot: () => served.length,
};

// The token function, as in Rollout's React guide. RolloutLinkProvider calls it once, keeps the
// promise, and calls it again only after the Rollout API answered 401.
async function fetchRolloutToken() {
  const response = await fetch("/rollout-token");
  if (!response.ok) throw new Error(`/rollout-token answered ${response.status}`);
  const { token } = await response.json();
  served.push(token);
  listeners.forEach((listener) => listener());
  return token;
}

function claimsOf(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

function TokenCard() {
  const count = useSyncExternalStore(tokenStore.subscribe, tokenStore.snapshot);
  const token = served[count - 1];
  const claims = token ? claimsOf(token) : null;
  return (
    <section className="card">
      <h2><span className="step">1</span>Tokens from <code>/rollout-token</code>
        <span className="pill ok" data-testid="token-count">{count} served</span></h2>
      {claims ? (
        <>
          <div className="token mono" data-testid="token">…{token.slice(-32)}</div>
          <table className="claims"><tbody>
            <tr><td>sub</td><td className="mono" data-testid="claim-sub">{claims.sub}</td><td className="note">your user id</td></tr>
            <tr><td>iss</td><td className="mono">{claims.iss}</td><td className="note">your client id</td></tr>
            <tr><td>exp</td><td className="mono">{new Date(claims.exp * 1000).toLocaleTimeString()}</td><td className="note">expires at</td></tr>
          </tbody></table>
        </>
      ) : (
        <div className="empty">RolloutLinkProvider has not asked for a token yet…</div>
      )}
    </section>
  );
}

function MyCredentials() {
  const { credentials, isLoading, isFetching, error, refetch } = useCredentials();
  const [status, setStatus] = useState("");

  async function refresh(simulateExpiry) {
    if (simulateExpiry) {
      await fetch(`${config.apiBaseUrl}/_stand-in/force-401?n=1`, { method: "POST" });
    }
    setStatus(simulateExpiry ? "The API answered 401; fetching a new token…" : "Refreshing…");
    const result = await refetch();
    setStatus(result.isSuccess ? `Refreshed at ${new Date().toLocaleTimeString()}` : "Refresh failed");
  }

  return (
    <section className="card">
      <h2><span className="step">2</span><code>useCredentials()</code>
        <span className={`pill ${error ? "bad" : isFetching ? "wait" : "ok"}`} data-testid="credentials-state">
          {error ? "error" : isFetching ? "fetching…" : "loaded"}
        </span></h2>
      {isLoading && <div className="empty">Loading…</div>}
      {error && <div className="empty">Could not load credentials: {error.errors?.[0]?.message ?? String(error)}</div>}
      {credentials && credentials.length === 0 && <div className="empty">No connected systems yet. Connect one below.</div>}
      {credentials && credentials.length > 0 && (
        <ul className="creds">
          {credentials.map((c) => (
            <li key={c.id} data-testid="credential" data-app-key={c.appKey}>
              <img src={`${config.apiBaseUrl}/connectors/${encodeURIComponent(c.appKey)}/icon`} alt="" />
              <div><div className="label">{c.label ?? c.appKey}</div>
                <div className="meta">{c.appKey} · connected {new Date(c.createdAt).toLocaleDateString()}</div></div>
            </li>
          ))}
        </ul>
      )}
      <div className="actions">
        <button className="primary" data-testid="refresh" onClick={() => refresh(false)}>Refresh</button>
        {config.standInControls && (
          <button className="danger" data-testid="simulate-expiry" onClick={() => refresh(true)}>Simulate expiry &amp; refresh</button>
        )}
      </div>
      <p className="meta" data-testid="refresh-status">{status}</p>
    </section>
  );
}

function App() {
  return (
    <RolloutLinkProvider apiBaseUrl={config.apiBaseUrl} token={fetchRolloutToken}>
      <div className="grid">
        <TokenCard />
        <MyCredentials />
        <section className="card wide">
          <h2><span className="step">3</span><code>&lt;CredentialsManager /&gt;</code></h2>
          <CredentialsManager />
        </section>
      </div>
    </RolloutLinkProvider>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
