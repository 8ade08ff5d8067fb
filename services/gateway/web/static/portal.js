// myDSP's progressive enhancement (every form also works without JavaScript):
// - the ALTCHA proof of work (protocol v1) solved in the browser: find n <= maxnumber with SHA-256(salt + n) == challenge;
// - the password policy shown live while typing (the server's check stays the one that decides);
// - a language choice sent as soon as it is picked; a printable wallet card's print button;
// - the service worker that shows a page saying the DSP needs a connection when there is none (it caches nothing else).
"use strict";

async function sha256hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function solveAltcha(box) {
  const c = JSON.parse(box.dataset.challenge);
  const status = box.querySelector(".altcha-status");
  const field = box.querySelector('input[name="altcha"]');
  const form = box.closest("form");
  const submit = form && form.querySelector('button[type="submit"]:not(.link)');
  if (submit) submit.disabled = true;
  for (let n = 0; n <= c.maxnumber; n++) {
    if ((await sha256hex(c.salt + n)) === c.challenge) {
      field.value = btoa(JSON.stringify({algorithm: c.algorithm, challenge: c.challenge, number: n,
                                         salt: c.salt, signature: c.signature}));
      status.textContent = status.dataset.done || "✓";
      box.dataset.solved = "true";
      if (submit) submit.disabled = false;
      return;
    }
  }
  status.textContent = status.dataset.failed || "✗";
}

function livePolicy(input) {
  const list = document.getElementById(input.dataset.policy);
  if (!list) return;
  const rules = {
    length: (v) => v.replace(/ /g, "").length >= 8,
    letter: (v) => /\p{L}/u.test(v),
    digit: (v) => /\d/.test(v),
  };
  const update = () => {
    for (const item of list.querySelectorAll("[data-rule]")) {
      const ok = rules[item.dataset.rule] ? rules[item.dataset.rule](input.value) : false;
      item.classList.toggle("ok", ok);
      const mark = item.querySelector(".mark");
      if (mark) mark.textContent = ok ? "✓" : "•";
    }
  };
  input.addEventListener("input", update);
  update();
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/service-worker.js").catch(() => {});  // the site works the same without it
}

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll(".altcha[data-challenge]")) solveAltcha(box);
  for (const input of document.querySelectorAll("input[data-policy]")) livePolicy(input);
  for (const select of document.querySelectorAll("form.lang select")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});
