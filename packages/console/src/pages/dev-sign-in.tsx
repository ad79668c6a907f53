import { useState } from "preact/hooks";
import type { Session } from "../session.js";

/**
 * The local stack's development sign-in: any role, any address, a token signed
 * with the stack's development secret (`POST /dev/sign-in`, which only the
 * local stack serves). Only the local build (`--mode localstack`) contains it.
 */
export const DevSignInForm = ({ onSignedIn }: { readonly onSignedIn: (s: Session) => void }) => {
  const [role, setRole] = useState<"clinician" | "viewer">("clinician");
  const [email, setEmail] = useState("dev-clinician@medusa.local");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await fetch("/dev/sign-in", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ role, email }),
      });
      const json = await r.json();
      if (!r.ok) {
        setError(
          json?.errors?.[0]?.path === "email"
            ? "Enter an e-mail address, such as nurse@clinic.example."
            : (json?.detail ?? "Sign-in failed."),
        );
        return;
      }
      onSignedIn({
        token: json.token,
        email: json.email,
        role: json.role,
        expiresAt: json.expires_at,
      });
    } catch {
      setError("The server did not answer.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1 id="sign-in-title">Development sign-in</h1>
      <p class="dev-warning" role="note">
        <strong>Development sign-in</strong> — only for the local stack on this machine. The token
        is signed with the stack's development secret; nothing here checks who you are.
      </p>
      <form onSubmit={submit} aria-describedby={error ? "sign-in-error" : undefined}>
        <fieldset>
          <legend>Role</legend>
          <label class="choice">
            <input
              type="radio"
              name="role"
              value="clinician"
              checked={role === "clinician"}
              onChange={() => {
                setRole("clinician");
                if (email === "dev-viewer@medusa.local") setEmail("dev-clinician@medusa.local");
              }}
            />
            Clinician (may assign, end, hand over and return devices)
          </label>
          <label class="choice">
            <input
              type="radio"
              name="role"
              value="viewer"
              checked={role === "viewer"}
              onChange={() => {
                setRole("viewer");
                if (email === "dev-clinician@medusa.local") setEmail("dev-viewer@medusa.local");
              }}
            />
            Viewer (may read only)
          </label>
        </fieldset>
        <label for="sign-in-email">E-mail (recorded as the actor of your changes)</label>
        <input
          id="sign-in-email"
          type="email"
          autocomplete="email"
          required
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "sign-in-error" : undefined}
        />
        {error && (
          <p id="sign-in-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in as {role}
        </button>
      </form>
    </>
  );
};
