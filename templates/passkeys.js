// Passkeys in the browser: the glue between uec-idp's WebAuthn options and
// navigator.credentials. The server speaks JSON with base64url strings; the browser API
// wants ArrayBuffers, and its answer goes back as JSON with base64url strings again.
// The element #passkey carries data-mode ("register", "second-factor" or "passwordless"),
// data-csrf and, in a sign-in, data-flow.
"use strict";
(() => {
  const box = document.getElementById("passkey");
  const button = document.getElementById("passkey-button");
  const error = document.getElementById("passkey-error");
  if (!box || !button) return;
  if (!window.PublicKeyCredential) {
    box.hidden = true;
    return;
  }

  const toBuffer = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const toBase64url = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  const creationOptions = ({ publicKey }) => {
    publicKey.challenge = toBuffer(publicKey.challenge);
    publicKey.user.id = toBuffer(publicKey.user.id);
    for (const c of publicKey.excludeCredentials || []) c.id = toBuffer(c.id);
    return { publicKey };
  };
  const requestOptions = ({ publicKey }) => {
    publicKey.challenge = toBuffer(publicKey.challenge);
    for (const c of publicKey.allowCredentials || []) c.id = toBuffer(c.id);
    return { publicKey };
  };
  const credentialJson = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  };

  const post = async (url, body) => {
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(answer.error || "The passkey could not be used. / パスキーを使用できませんでした。");
    return answer;
  };

  const { mode, csrf, flow } = box.dataset;
  const register = async () => {
    const { options, ticket } = await post("/account/passkeys/begin", { csrf });
    const cred = await navigator.credentials.create(creationOptions(options));
    const name = (document.getElementById("passkey-name") || {}).value || "";
    await post("/account/passkeys", { csrf, ticket, name, credential: credentialJson(cred) });
    window.location.reload();
  };
  const signIn = async () => {
    const options = await post("/login/passkey/begin", { csrf, flow });
    const cred = await navigator.credentials.get(requestOptions(options));
    const { next } = await post("/login/passkey/finish", { csrf, flow, credential: credentialJson(cred) });
    window.location.assign(next);
  };

  button.addEventListener("click", async () => {
    error.hidden = true;
    button.disabled = true;
    try {
      await (mode === "register" ? register() : signIn());
    } catch (e) {
      // A cancelled prompt is a NotAllowedError: say so plainly, not as a fault.
      error.textContent = e.name === "NotAllowedError"
        ? "The passkey prompt was cancelled or timed out. / パスキーの操作がキャンセルされました。"
        : e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
