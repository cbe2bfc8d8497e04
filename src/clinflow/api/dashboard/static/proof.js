// In-page verification of an audit entry's inclusion proof (RFC 9162 §2.1.3.2) against the
// signed checkpoint (C2SP tlog-checkpoint in a C2SP signed note, Ed25519), with the browser's
// own SubtleCrypto: the server's word is not taken for any hash.
//
//   leaf = SHA-256(0x00 || entry bytes)        node = SHA-256(0x01 || left || right)
//
// The same arithmetic as clinflow.audit.merkle.verify_inclusion, on BigInt (tree sizes up to
// 2^53 do not fit JavaScript's 32-bit bit operators).
"use strict";

const Proof = {
  async sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  },

  concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  },

  fromBase64(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      throw new Error("not base64: " + String(text).slice(0, 16));
    }
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  },

  toBase64(bytes) {
    return btoa(String.fromCharCode(...bytes));
  },

  equal(a, b) {
    return a.length === b.length && a.every((value, i) => value === b[i]);
  },

  leafHash(entryBytes) {
    return this.sha256(this.concat(new Uint8Array([0]), entryBytes));
  },

  nodeHash(left, right) {
    return this.sha256(this.concat(new Uint8Array([1]), left, right));
  },

  // RFC 9162 §2.1.3.2: the root reached from leaf at index in a tree of size, or null when
  // the path has the wrong length for that position.
  async rootFromPath(index, size, leaf, path) {
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    if (fn < 0n || fn > sn) return null;
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        r = await this.nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while (fn !== 0n && (fn & 1n) === 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await this.nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n ? r : null;
  },

  // C2SP signed note -> {body, origin, size, root, signatures: [{name, blob}]}
  parseNote(note) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new Error("signed note has no signature block");
    const body = note.slice(0, split + 1);
    const lines = body.slice(0, -1).split("\n");
    if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Error("checkpoint body needs origin, size and root lines");
    }
    const signatures = [];
    for (const line of note.slice(split + 2).split("\n")) {
      const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (match) signatures.push({ name: match[1], blob: this.fromBase64(match[2]) });
    }
    return { body, origin: lines[0], size: BigInt(lines[1]),
             root: this.fromBase64(lines[2]), signatures };
  },

  // true / false, or null when this browser's SubtleCrypto has no Ed25519.
  async verifyNote(parsed, vkey) {
    // <name>+<hex key id>+<base64 key>: the base64 part may itself hold "+" characters
    const first = vkey.indexOf("+");
    const second = vkey.indexOf("+", first + 1);
    if (first < 0 || second < 0) throw new Error("verifier key must be name+id+key");
    const [name, hexId, keyB64] = [vkey.slice(0, first), vkey.slice(first + 1, second),
                                   vkey.slice(second + 1)];
    const raw = this.fromBase64(keyB64 || "");
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("verifier key is not Ed25519");
    const publicKey = raw.slice(1);
    const idInput = this.concat(new TextEncoder().encode(name + "\n"), new Uint8Array([1]),
                                publicKey);
    const keyId = (await this.sha256(idInput)).slice(0, 4);
    const hex = Array.from(keyId, (b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== hexId) throw new Error("verifier key id does not match its name and key");
    let key;
    try {
      key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false,
                                          ["verify"]);
    } catch (_) {
      return null;
    }
    const message = new TextEncoder().encode(parsed.body);
    for (const signature of parsed.signatures) {
      if (signature.name !== name || signature.blob.length !== 68) continue;
      if (!this.equal(signature.blob.slice(0, 4), keyId)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, signature.blob.slice(4), message)) {
        return true;
      }
    }
    return false;
  },

  // doc: {entry, leaf_index, tree_size, hashes, checkpoint, root_hash, vkey}
  // -> {verdict: "pass" | "fail" | "unsigned", checks: [[ok, text], ...]}
  async verify(doc) {
    const checks = [];
    const fail = (text) => { checks.push([false, text]); return { verdict: "fail", checks }; };
    if (!window.crypto || !crypto.subtle) {
      return fail("this page has no SubtleCrypto (serve it over HTTPS or from localhost)");
    }
    try {
      const entry = new TextEncoder().encode(String(doc.entry));
      const leaf = await this.leafHash(entry);
      checks.push([true, "leaf hash SHA-256(0x00 ‖ entry) = " + this.toBase64(leaf)]);
      const path = (doc.hashes || []).map((h) => this.fromBase64(h));
      const root = await this.rootFromPath(doc.leaf_index, doc.tree_size, leaf, path);
      if (root === null) return fail("the audit path does not fit leaf " + doc.leaf_index +
                                     " of a tree of " + doc.tree_size);
      checks.push([true, "root from " + path.length + " path hashes = " + this.toBase64(root)]);
      if (!doc.checkpoint) {
        const expected = this.fromBase64(doc.root_hash || "");
        if (!this.equal(root, expected)) return fail("root differs from the log's current root");
        checks.push([true, "matches the log's current root (no signed checkpoint covers " +
                           "this entry yet: not signed)"]);
        return { verdict: "unsigned", checks };
      }
      const note = this.parseNote(String(doc.checkpoint));
      if (note.size !== BigInt(doc.tree_size)) {
        return fail("the checkpoint is of size " + note.size + ", the proof of " + doc.tree_size);
      }
      if (!this.equal(root, note.root)) {
        return fail("computed root differs from the signed checkpoint's root " +
                    this.toBase64(note.root));
      }
      checks.push([true, "equals the root of checkpoint " + note.origin + " size " + note.size]);
      const signed = await this.verifyNote(note, String(doc.vkey || ""));
      if (signed === false) return fail("the checkpoint's Ed25519 signature does not verify");
      checks.push([true, signed ? "checkpoint signature verifies (Ed25519, key " +
                                  String(doc.vkey).split("+", 1)[0] + ")"
                                : "signature not checked: this browser has no Ed25519"]);
      return { verdict: "pass", checks };
    } catch (error) {
      return fail(String(error && error.message ? error.message : error));
    }
  },

  show(result) {
    const out = document.getElementById("verify-result");
    out.dataset.verdict = result.verdict;
    const title = document.createElement("p");
    title.className = result.verdict === "fail" ? "error verdict" : "ok verdict";
    title.textContent = {
      pass: "VERIFIED: the entry is in the log under the signed checkpoint",
      unsigned: "VERIFIED against the current root (not yet under a signed checkpoint)",
      fail: "VERIFICATION FAILED",
    }[result.verdict];
    const list = document.createElement("ul");
    for (const [ok, text] of result.checks) {
      const item = document.createElement("li");
      item.className = ok ? "ok" : "error";
      item.textContent = (ok ? "✓ " : "✗ ") + text;
      list.append(item);
    }
    out.replaceChildren(title, list);
  },

  async fetchAndVerify(index) {
    const D = window.ClinflowDashboard;
    const [entryResponse, keyResponse] = await Promise.all([
      D.call("/audit/events/" + encodeURIComponent(index)),
      D.call("/audit/pubkey"),
    ]);
    if (entryResponse.status === 403) return D.forbidden(entryResponse);
    const panel = document.getElementById("verify");
    panel.hidden = false;
    if (!entryResponse.ok || !keyResponse.ok) {
      const failed = entryResponse.ok ? keyResponse : entryResponse;
      this.show({ verdict: "fail", checks: [[false, await D.detail(failed)]] });
      return;
    }
    const found = await entryResponse.json();
    const { vkey } = await keyResponse.json();
    const doc = {
      entry: found.entry,
      leaf_index: found.inclusion_proof.leaf_index,
      tree_size: found.inclusion_proof.tree_size,
      hashes: found.inclusion_proof.hashes,
      root_hash: found.inclusion_proof.root_hash,
      checkpoint: found.inclusion_proof.checkpoint,
      vkey,
    };
    document.getElementById("proof-json").value = JSON.stringify(doc, null, 2);
    this.show(await this.verify(doc));
    panel.scrollIntoView();
  },

  async verifyTextarea() {
    let doc;
    try {
      doc = JSON.parse(document.getElementById("proof-json").value);
    } catch (error) {
      this.show({ verdict: "fail", checks: [[false, "not JSON: " + error.message]] });
      return;
    }
    this.show(await this.verify(doc));
  },
};

window.ClinflowProof = Proof;
document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.verify !== undefined) Proof.fetchAndVerify(button.dataset.verify);
  else if (button.id === "verify-again") Proof.verifyTextarea();
});
