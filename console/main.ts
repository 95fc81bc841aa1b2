import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, session, tokenScopes } from "./api.ts";
import { CapturesScreen } from "./captures.ts";
import { html } from "./html.ts";
import { RealtimeScreen } from "./realtime.ts";
import { StreamScreen, StreamsScreen } from "./streams.ts";
import { SubscriptionScreen, SubscriptionsScreen } from "./subscriptions.ts";
import { TailScreen } from "./tail.ts";

const useHash = () => {
  const [hash, setHash] = useState(location.hash || "#/streams");
  useEffect(() => {
    const onChange = () => setHash(location.hash || "#/streams");
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return hash;
};

/** Paste a token; it is checked against the bus once and kept for this browser tab only. */
function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    session.token = token.trim();
    try {
      await api("/streams?limit=1");
      onSignedIn();
    } catch (e) {
      // A token without events:read can still run the screens it is allowed; only 401 is a failed sign-in.
      if (e instanceof ApiError && e.status === 403) {
        onSignedIn();
        return;
      }
      session.token = null;
      setError(
        e instanceof ApiError && e.status === 401
          ? `The bus refused this token: ${e.message}`
          : (e as Error).message,
      );
    }
  };
  return html`
    <main class="signin">
      <h1>eventbus console</h1>
      <form onSubmit=${submit}>
        <label>Token (the "admin token" line that npm run dev prints, or any bus token)
          <textarea rows="4" value=${token} required autofocus onInput=${(e: Event) => setToken((e.target as HTMLTextAreaElement).value)}></textarea>
        </label>
        <p><button type="submit">Sign in</button></p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </form>
    </main>`;
}

const screens = [
  ["#/streams", "Streams"],
  ["#/tail", "Live tail"],
  ["#/subscriptions", "Subscriptions"],
  ["#/realtime", "Realtime"],
  ["#/captures", "Captures"],
] as const;

/** The bus's readiness (`GET /health/ready`), checked every 10 s: is a listener forwarding? */
function Readiness() {
  const [ready, setReady] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    const check = async () => {
      try {
        const response = await fetch("/health/ready");
        const body = (await response.json()) as { listeners?: unknown[]; reason?: string };
        setReady(
          response.ok
            ? { ok: true, text: `ready · ${body.listeners?.length ?? 0} listener(s)` }
            : { ok: false, text: `not ready: ${body.reason ?? "database unreachable"}` },
        );
      } catch {
        setReady({ ok: false, text: "not reachable" });
      }
    };
    void check();
    const timer = setInterval(check, 10_000);
    return () => clearInterval(timer);
  }, []);
  return ready && html`<span aria-live="polite" class=${ready.ok ? "ok" : "error"}>${ready.text}</span>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(session.token !== null);
  const hash = useHash();
  if (!signedIn) return html`<${SignIn} onSignedIn=${() => setSignedIn(true)} />`;
  const [, section = "streams", rest] = hash.match(/^#\/([^/]*)\/?(.*)$/) ?? [];
  const param = rest ? decodeURIComponent(rest) : undefined;
  let screen: unknown;
  if (section === "tail") screen = html`<${TailScreen} />`;
  else if (section === "subscriptions")
    screen = param
      ? html`<${SubscriptionScreen} key=${param} name=${param} />`
      : html`<${SubscriptionsScreen} />`;
  else if (section === "realtime") screen = html`<${RealtimeScreen} />`;
  else if (section === "captures") screen = html`<${CapturesScreen} />`;
  else screen = param ? html`<${StreamScreen} streamId=${param} />` : html`<${StreamsScreen} />`;
  const signOut = () => {
    session.token = null;
    setSignedIn(false);
  };
  return html`
    <header class="top">
      <h1>eventbus</h1>
      <nav aria-label="Screens">
        <ul>
          ${screens.map(
            ([href, label]) =>
              html`<li><a href=${href} aria-current=${hash.startsWith(href) ? "page" : undefined}>${label}</a></li>`,
          )}
        </ul>
      </nav>
      <span class="spacer"></span>
      <${Readiness} />
      <span class="muted">${tokenScopes(session.token ?? "") ?? ""}</span>
      <button class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    <main>${screen}</main>`;
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading" placeholder
render(html`<${App} />`, root);
