/**
 * Credentials never printed: whatever shows a URL or a config (`config check`, errors, logs,
 * events) shows it through `redactUrl`, and free text that may quote one (a client library's
 * error message) through `redactCredentials`. Store text redaction (prompts, completions) is a
 * different matter: connectors/sink-common/redact.ts.
 */

/** Query parameters whose values are secrets. */
const SECRET_PARAM = /^(?:password|passwd|pass|pwd|token|access_token|auth|api_key|apikey|key|secret|sig|signature|x-amz-signature)$/i;

/** A URL with its password (and secret query values) replaced by `***`; the user name stays (it helps debugging). */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactCredentials(url);
  }
  if (u.password !== "") u.password = "***";
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, "***");
  const out = u.toString();
  // URL adds a trailing slash to a bare origin; keep what the user wrote.
  return url.endsWith("/") || !out.endsWith("/") || u.pathname !== "/" ? out : out.slice(0, -1);
}

/** Free text with the password of every `scheme://user:password@` in it masked, and `Bearer <token>` too. */
export function redactCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, "$1***@").replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer ***");
}
