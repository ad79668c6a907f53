import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, apiClient } from "./api.js";
import { completeSignIn, isCallback, type OidcSettings, signOutUrl } from "./oidc.js";
import { AlertsPage } from "./pages/alerts.js";
import { DevicePage } from "./pages/device.js";
import { DevicesPage } from "./pages/devices.js";
import { PatientPage } from "./pages/patient.js";
import { SignInPage } from "./pages/sign-in.js";
import { loadSession, type Session, saveSession } from "./session.js";
import { zoneLabel } from "./time.js";
import "./styles.css";

/** What the server that serves the console says (`GET /console-config.json`). */
export interface ConsoleConfig {
  readonly time_zone: string;
  readonly dev_sign_in: boolean;
  /** Sign-in with an OpenID provider (in AWS: the Cognito user pool); absent in the local stack. */
  readonly oidc?: OidcSettings;
}

/** What every page is given. */
export interface PageProps {
  readonly api: Api;
  readonly session: Session;
  readonly timeZone: string;
  readonly navigate: (path: string) => void;
}

type Route =
  | { readonly page: "devices" }
  | { readonly page: "alerts" }
  | { readonly page: "device"; readonly id: string }
  | { readonly page: "patient"; readonly id: string }
  | { readonly page: "sign-in" };

const routeOf = (path: string): Route => {
  const device = /^\/devices\/([^/]+)$/.exec(path);
  if (device) return { page: "device", id: decodeURIComponent(device[1] as string) };
  const patient = /^\/patients\/([^/]+)$/.exec(path);
  if (patient) return { page: "patient", id: decodeURIComponent(patient[1] as string) };
  if (path === "/sign-in") return { page: "sign-in" };
  if (path === "/alerts") return { page: "alerts" };
  return { page: "devices" };
};

const RETURN_TO = "medusa.return-to";

const App = ({
  config,
  initialNotice,
}: {
  config: ConsoleConfig;
  initialNotice: string | undefined;
}) => {
  const [path, setPath] = useState(location.pathname);
  const [session, setSession] = useState(loadSession);
  const [notice, setNotice] = useState<string | undefined>(initialNotice);
  const main = useRef<HTMLElement>(null);

  const navigate = (to: string) => {
    if (to !== location.pathname) history.pushState(null, "", to);
    setPath(to);
  };
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    // Links inside the console change the page without a reload.
    const onClick = (e: MouseEvent) => {
      const a = (e.target as Element | null)?.closest?.("a");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey)
        return;
      const href = a.getAttribute("href");
      if (!href?.startsWith("/") || a.target) return;
      e.preventDefault();
      navigate(href);
    };
    document.addEventListener("click", onClick);
    return () => {
      removeEventListener("popstate", onPop);
      document.removeEventListener("click", onClick);
    };
  }, []);

  const signOut = (why?: string) => {
    saveSession(undefined);
    setSession(undefined);
    setNotice(why);
  };
  const api = useMemo(
    () =>
      session
        ? apiClient(session.token, () => {
            // Back here after signing in again; the forms' drafts are kept.
            sessionStorage.setItem(RETURN_TO, location.pathname);
            signOut("Your session has ended. Sign in again to go on where you were.");
          })
        : undefined,
    [session],
  );

  const route = routeOf(path);
  // Each page change moves focus to its heading, for keyboard and screen-reader users.
  useEffect(() => {
    const h1 = main.current?.querySelector("h1");
    if (h1) {
      h1.setAttribute("tabindex", "-1");
      h1.focus();
    }
    const title = h1?.textContent;
    document.title = title ? `${title} — MeDUSA Link` : "MeDUSA Link console";
  }, [path, session]);

  const zone = zoneLabel(config.time_zone);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          MeDUSA Link
        </a>
        {session && (
          <nav aria-label="Main">
            <a href="/" aria-current={route.page === "devices" ? "page" : undefined}>
              Devices
            </a>
            <a href="/alerts" aria-current={route.page === "alerts" ? "page" : undefined}>
              Alerts
            </a>
          </nav>
        )}
        <p class="zone">
          Times in <strong>{zone}</strong>
        </p>
        {session && (
          <div class="who">
            <span>
              {session.email} <span class="role">({session.role})</span>
            </span>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                // With the provider, its session ends too (Cognito's /logout), then it sends the browser back.
                const url = config.oidc && signOutUrl(config.oidc);
                sessionStorage.removeItem(RETURN_TO);
                signOut("You are signed out.");
                if (url) location.assign(url);
              }}
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {!session || !api ? (
          <SignInPage
            devSignIn={config.dev_sign_in}
            oidc={config.oidc}
            returnTo={sessionStorage.getItem(RETURN_TO) ?? (route.page === "sign-in" ? "/" : path)}
            notice={notice}
            onSignedIn={(s) => {
              saveSession(s);
              setSession(s);
              setNotice(undefined);
              const back = sessionStorage.getItem(RETURN_TO);
              sessionStorage.removeItem(RETURN_TO);
              navigate(back && back !== "/sign-in" ? back : location.pathname);
            }}
          />
        ) : (
          (() => {
            const props = { api, session, timeZone: config.time_zone, navigate };
            switch (route.page) {
              case "device":
                return <DevicePage key={route.id} {...props} deviceId={route.id} />;
              case "patient":
                return <PatientPage key={route.id} {...props} patientId={route.id} />;
              case "alerts":
                return <AlertsPage {...props} />;
              default:
                return <DevicesPage {...props} />;
            }
          })()
        )}
      </main>
    </>
  );
};

const start = async () => {
  const root = document.getElementById("app") as HTMLElement;
  let config: ConsoleConfig;
  try {
    const r = await fetch("/console-config.json", { headers: { accept: "application/json" } });
    if (!r.ok) throw new Error(String(r.status));
    config = (await r.json()) as ConsoleConfig;
  } catch {
    render(<p role="alert">The console could not reach its server. Reload the page.</p>, root);
    return;
  }
  // The provider sending the browser back with a code: finish signing in, then the page it began on.
  let notice: string | undefined;
  if (config.oidc && isCallback(config.oidc, new URL(location.href))) {
    let back = "/";
    try {
      const { session, returnTo } = await completeSignIn(config.oidc, new URL(location.href));
      saveSession(session);
      sessionStorage.removeItem(RETURN_TO);
      back = returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/";
    } catch (e) {
      notice =
        e instanceof Error && e.name === "SignInFailed" ? e.message : "Sign-in failed. Try again.";
    }
    // The code and state leave the address bar and the history.
    history.replaceState(null, "", back);
  }
  render(<App config={config} initialNotice={notice} />, root);
};

void start();
