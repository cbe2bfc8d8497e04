// clinflow dashboard: sign-in, fragment loading and polling, forms. No framework, no inline
// script (the Content-Security-Policy allows scripts from this origin only).
//
// The API token lives in this tab's sessionStorage and goes out as "Authorization: Bearer" on
// every fragment call: there is no cookie, so another site cannot make the browser send a
// credential (no CSRF), and closing the tab forgets the token (docs/adr/0101).
"use strict";

const TOKEN_KEY = "clinflow.dashboard.token";

const Dashboard = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },

  signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    const target = "/dashboard" + (message ? "#" + encodeURIComponent(message) : "");
    window.location.assign(target);
  },

  // fetch() with the tab's token; 401 sends the tab back to sign-in.
  async call(path, options = {}) {
    const headers = new Headers(options.headers || {});
    const token = this.token();
    if (token) headers.set("Authorization", "Bearer " + token);
    const response = await fetch(path, { ...options, headers, credentials: "omit",
                                          cache: "no-store", redirect: "error" });
    if (response.status === 401 && document.body.dataset.view !== "login") {
      this.signOut("Your token was refused (missing, invalid or revoked).");
    }
    return response;
  },

  async detail(response) {
    try {
      const body = await response.json();
      return typeof body.detail === "string" ? body.detail : response.statusText;
    } catch (_) {
      return response.statusText || "error " + response.status;
    }
  },

  // Show the 403 page in place of the main panel.
  async forbidden(response) {
    const template = document.getElementById("forbidden-template");
    const page = template.content.cloneNode(true);
    page.querySelector(".detail").textContent = await this.detail(response);
    document.getElementById("main").replaceChildren(page);
    document.title = "403 Forbidden — clinflow dashboard";
  },

  // Load a server-rendered fragment into element (htmx-like swap of innerHTML; the server
  // escapes every value, and inserted markup runs no script).
  async load(element, path, options = {}) {
    const response = await this.call(path, options);
    if (response.status === 403) {
      await this.forbidden(response);
      return false;
    }
    if (!response.ok) {
      const error = document.createElement("p");
      error.className = "error";
      error.setAttribute("role", "alert");
      error.textContent = "Error " + response.status + ": " + (await this.detail(response));
      element.replaceChildren(error);
      return false;
    }
    element.innerHTML = await response.text();
    element.dispatchEvent(new CustomEvent("fragment-loaded", { bubbles: true }));
    return true;
  },

  // data-fragment elements load once; with data-poll="ms" they reload on that period.
  startFragments() {
    for (const element of document.querySelectorAll("[data-fragment]:not(form)")) {
      const path = element.dataset.fragment;
      const period = Number(element.dataset.poll || 0);
      const tick = async () => {
        const kept = await this.load(element, path).catch(() => false);
        if (period > 0 && kept !== false && document.body.contains(element)) {
          setTimeout(tick, period);
        } else if (period > 0 && document.body.contains(element)) {
          setTimeout(tick, period * 3);  // transient error: back off, keep trying
        }
      };
      tick();
    }
  },

  fragmentPath(form) {
    const data = new FormData(form);
    let path = form.dataset.fragment;
    if (path.includes("{patient}")) {
      return path.replace("{patient}", encodeURIComponent(String(data.get("patient")).trim()));
    }
    const query = new URLSearchParams();
    for (const [name, value] of data.entries()) {
      if (String(value).trim() !== "") query.append(name, String(value).trim());
    }
    return path + (query.toString() ? "?" + query.toString() : "");
  },

  async signIn(form) {
    const token = String(new FormData(form).get("token") || "").trim();
    const error = document.getElementById("login-error");
    error.textContent = "";
    sessionStorage.setItem(TOKEN_KEY, token);
    const response = await this.call("/dashboard/fragments/whoami");
    if (response.ok) {
      const patientToken = (await response.text()).includes('data-role="patient"');
      const next = new URLSearchParams(window.location.search).get("next");
      const home = patientToken ? "/dashboard/patient" : "/dashboard/pipeline";
      const safe = next && /^\/dashboard\/[a-z]+$/.test(next) ? next : home;
      window.location.assign(safe);
      return;
    }
    sessionStorage.removeItem(TOKEN_KEY);
    error.textContent = response.status === 401
      ? "Token refused: missing, invalid or revoked."
      : "Error " + response.status + ": " + (await this.detail(response));
  },

  async revoke(form) {
    const data = new FormData(form);
    const body = {
      purposes: data.getAll("purposes").map(String),
      retroactive: data.get("retroactive") !== null,
    };
    const target = document.getElementById("receipt-view");
    const ok = await this.load(target, form.dataset.action, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (ok) target.scrollIntoView();
  },

  async openReport(index) {
    const frame = document.getElementById("report-frame");
    const response = await this.call("/dashboard/fragments/replays/" + encodeURIComponent(index));
    if (response.status === 403) return this.forbidden(response);
    if (!response.ok) return;
    frame.srcdoc = await response.text();  // sandbox="": no script, no same-origin access
    frame.hidden = false;
  },

  init() {
    const view = document.body.dataset.view;
    if (view === "login") {
      if (window.location.hash) {
        document.getElementById("login-error").textContent =
          decodeURIComponent(window.location.hash.slice(1));
      }
    } else if (!this.token()) {
      window.location.assign("/dashboard?next=" + encodeURIComponent(window.location.pathname));
      return;
    }
    document.addEventListener("submit", (event) => {
      const form = event.target;
      event.preventDefault();
      if (form.id === "login-form") this.signIn(form);
      else if (form.id === "revoke-form") this.revoke(form);
      else if (form.dataset.fragment) {
        this.load(document.getElementById(form.dataset.target), this.fragmentPath(form));
      }
    });
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.id === "signout") this.signOut();
      else if (button.dataset.report !== undefined) this.openReport(button.dataset.report);
    });
    document.addEventListener("fragment-loaded", (event) => {
      // a patient token: its own pseudonym fills the empty pseudonym fields
      const own = event.target.querySelector(".who[data-role='patient']");
      if (!own) return;
      for (const input of document.querySelectorAll("input[name='patient']")) {
        if (!input.value) input.value = own.dataset.patient;
      }
    });
    if (view !== "login") this.startFragments();
  },
};

window.ClinflowDashboard = Dashboard;
document.addEventListener("DOMContentLoaded", () => Dashboard.init());
