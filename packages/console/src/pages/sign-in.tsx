import { useState } from "preact/hooks";
import { beginSignIn, type OidcSettings } from "../oidc.js";
import type { Session } from "../session.js";
import { DevSignInForm } from "./dev-sign-in.js";

// Replaced at build time: the production build (`vite build`) has no development sign-in in it.
const LOCAL_BUILD = import.meta.env.MODE === "localstack";

/** Signing in with the clinic's identity provider (in AWS, the Cognito user pool's hosted UI). */
const ProviderSignIn = (props: { readonly oidc: OidcSettings; readonly returnTo: string }) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await beginSignIn(props.oidc, props.returnTo);
    } catch (e) {
      setError(
        e instanceof Error && e.name === "SignInFailed"
          ? e.message
          : "The identity provider did not answer. Try again in a moment.",
      );
      setBusy(false);
    }
  };
  return (
    <>
      <h1 id="sign-in-title">Sign in</h1>
      <p>Sign in with your clinic account. You will come back to where you were.</p>
      {error && (
        <p id="sign-in-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="button" onClick={go} disabled={busy}>
        Sign in with your clinic account
      </button>
    </>
  );
};

export const SignInPage = (props: {
  readonly devSignIn: boolean;
  readonly oidc: OidcSettings | undefined;
  /** The console's page to come back to after signing in. */
  readonly returnTo: string;
  readonly notice: string | undefined;
  readonly onSignedIn: (s: Session) => void;
}) => (
  <section aria-labelledby="sign-in-title" class="narrow">
    {props.notice && (
      <p role="status" class="notice">
        {props.notice}
      </p>
    )}
    {LOCAL_BUILD && props.devSignIn ? (
      <DevSignInForm onSignedIn={props.onSignedIn} />
    ) : props.oidc ? (
      <ProviderSignIn oidc={props.oidc} returnTo={props.returnTo} />
    ) : (
      <>
        <h1 id="sign-in-title">Sign in</h1>
        <p>
          Sign-in with the clinic's identity provider is not set up for this console yet. Ask the
          operator for access.
        </p>
      </>
    )}
  </section>
);
