import Hummingbird
import NIOCore

/// The web inspector at the API's root: keys, their credentials, waiting prompts with
/// Approve/Deny, and the live event log. Open `http://127.0.0.1:8112/?access_token=<token>`;
/// the page sends the token from its own address with every call it makes.
enum Inspector {
    static var page: Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                        .init("Content-Security-Policy")!: "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let html = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>vfido inspector</title>
    <style>
    body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
    h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
    table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .25em .5em; text-align: left; }
    code { font-size: 12px; } .prompt { background: #fff6d5; padding: .5em; margin: .3em 0; border: 1px solid #e5c100; }
    #log { font: 12px monospace; max-height: 24em; overflow-y: auto; border: 1px solid #ccc; padding: .5em; }
    </style></head>
    <body>
    <h1>vfido inspector</h1>
    <div id="error"></div>
    <div id="keys">loading…</div>
    <h2>Events</h2>
    <div id="log"></div>
    <script>
    const token = new URLSearchParams(location.search).get("access_token") || new URLSearchParams(location.hash.slice(1)).get("access_token") || "";
    const api = (path, options = {}) => fetch(path, { ...options, headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" } })
      .then(async r => { const body = r.status === 204 ? null : await r.json(); if (!r.ok) throw new Error(body.error_code + ": " + body.message); return body; });
    const text = s => String(s ?? "").replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    async function render() {
      try {
        const keys = await api("/keys");
        const parts = [];
        for (const k of keys) {
          const [creds, prompts] = await Promise.all([api(`/keys/${k.key}/credentials`), api(`/keys/${k.key}/prompts`)]);
          parts.push(`<section class="key" data-key="${k.key}"><h2>Key ${k.key} <small>serial ${text(k.serialNumber)}, ${k.plugged ? "plugged in" : "unplugged"}, presence ${text(k.presence.policy)}</small></h2>`);
          parts.push(prompts.length ? prompts.map(p => `<div class="prompt" data-prompt="${p.id}">${text(p.summary)}
            <button class="approve" onclick="answer(${k.key}, ${p.id}, 'approve')">Approve</button>
            <button class="deny" onclick="answer(${k.key}, ${p.id}, 'deny')">Deny</button></div>`).join("") : `<p class="no-prompts">No prompt is waiting.</p>`);
          parts.push(`<table class="credentials"><tr><th>RP</th><th>user</th><th>resident</th><th>sign count</th><th>credential ID</th></tr>` +
            creds.map(c => `<tr><td>${text(c.rpId)}</td><td>${text(c.userName)}</td><td>${c.isResidentCredential}</td><td>${c.signCount ?? "global"}</td><td><code>${text(c.credentialId.slice(0, 24))}…</code></td></tr>`).join("") + `</table></section>`);
        }
        document.getElementById("keys").innerHTML = parts.join("");
        document.getElementById("error").textContent = "";
      } catch (e) { document.getElementById("error").textContent = String(e); }
    }
    async function answer(key, id, verb) {
      try { await api(`/keys/${key}/prompts/${verb}`, { method: "POST", body: JSON.stringify({ id }) }); } catch (e) { document.getElementById("error").textContent = String(e); }
      render();
    }
    const events = new EventSource("/events?access_token=" + encodeURIComponent(token));
    events.onmessage = () => {};
    const types = ["credentialAdded", "credentialAsserted", "credentialUpdated", "credentialDeleted", "promptStarted", "promptAnswered",
                   "pinSet", "pinChanged", "reset", "plugged", "unplugged", "powerCycled", "command", "overflow"];
    for (const type of types) events.addEventListener(type, e => {
      const log = document.getElementById("log");
      const line = document.createElement("div");
      line.className = "event " + type;
      line.textContent = e.data;
      log.prepend(line);
      while (log.childNodes.length > 200) log.lastChild.remove();
      if (type !== "command") render();
    });
    render();
    </script>
    </body></html>
    """#
}
