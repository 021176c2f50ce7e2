// sluice console: makes the graph clickable and the execution page live. No framework, no
// build step: this file is embedded in the binary as written.
"use strict";

(function () {
  const STATUSES = ["running", "succeeded", "caught", "failed", "aborted", "unreached"];

  function readViews() {
    const el = document.getElementById("state-views");
    if (!el) return {};
    try { return JSON.parse(el.textContent); } catch (e) { return {}; }
  }

  let views = readViews();
  let selected = null;

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function showState(name) {
    const panel = document.getElementById("state-panel");
    if (!panel) return;
    selected = name;
    document.querySelectorAll("#graph g.selected").forEach((g) => g.classList.remove("selected"));
    document.querySelectorAll("#graph g[data-name]").forEach((g) => {
      if (g.dataset.name === name) g.classList.add("selected");
    });
    panel.replaceChildren();
    panel.appendChild(text("h3", name));
    const v = views[name];
    if (!v) {
      panel.appendChild(text("p", "Not reached.", "empty"));
      return;
    }
    const status = text("p", "");
    status.appendChild(text("span", v.status, "badge " + v.status));
    if (v.entered > 1) status.appendChild(text("span", " entered " + v.entered + " times; the latest visit:", "small"));
    panel.appendChild(status);
    if (v.error || v.cause) {
      const box = document.createElement("div");
      box.className = "error-box";
      box.appendChild(text("strong", v.error || ""));
      if (v.cause) box.appendChild(text("pre", v.cause));
      panel.appendChild(box);
    }
    panel.appendChild(text("h4", "Input"));
    panel.appendChild(text("pre", v.input == null ? "—" : v.input, "json state-input"));
    panel.appendChild(text("h4", "Output"));
    panel.appendChild(text("pre", v.output == null ? "—" : v.output, "json state-output"));
  }

  function paint() {
    document.querySelectorAll("#graph g[data-name]").forEach((g) => {
      if (g.classList.contains("container") && g.getAttribute("data-id").match(/\/(branch \d+|items)$/)) return;
      const v = views[g.dataset.name];
      STATUSES.forEach((s) => g.classList.remove(s));
      g.classList.add(v ? v.status : "unreached");
    });
  }

  function wireGraph() {
    document.querySelectorAll("#graph g[data-name]").forEach((g) => {
      g.addEventListener("click", (event) => {
        event.stopPropagation();
        showState(g.dataset.name);
      });
    });
  }

  function live() {
    const page = document.getElementById("execution");
    if (!page || page.dataset.status !== "RUNNING") return;
    let last = Number(page.dataset.lastEvent || "0");
    const tick = async () => {
      try {
        const response = await fetch(page.dataset.live + "&after=" + last, { credentials: "same-origin" });
        if (response.ok) {
          const update = await response.json();
          views = update.states || {};
          paint();
          if (selected) showState(selected);
          if (update.rows) document.getElementById("history").insertAdjacentHTML("beforeend", update.rows);
          last = update.last;
          if (update.status !== "RUNNING") {
            // The outcome, the buttons and the output come with the page itself.
            window.location.reload();
            return;
          }
        }
      } catch (e) {
        // The server may be restarting: keep polling.
      }
      window.setTimeout(tick, 1000);
    };
    window.setTimeout(tick, 1000);
  }

  function refresh() {
    const el = document.querySelector("[data-refresh]");
    if (el) window.setTimeout(() => window.location.reload(), Number(el.dataset.refresh) * 1000);
  }

  function problems() {
    document.querySelectorAll("table.problems tr[data-state]").forEach((row) => {
      row.addEventListener("mouseenter", () => {
        document.querySelectorAll("g[data-name]").forEach((g) => {
          g.classList.toggle("selected", g.dataset.name === row.dataset.state);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireGraph();
    live();
    refresh();
    problems();
  });
})();
