import type { Session } from "../session.js";
import { DevSignInForm } from "./dev-sign-in.js";

// Replaced at build time: the production build (`vite build`) has no development sign-in in it.
const LOCAL_BUILD = import.meta.env.MODE === "localstack";

export const SignInPage = (props: {
  readonly devSignIn: boolean;
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
