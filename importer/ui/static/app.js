// captorra-import ui: uploads, the mapping form's live parts, and the send's progress.
// Everything works from this page's own server; nothing is fetched from elsewhere.
"use strict";

(function () {
  const number = (value) => Number(value).toLocaleString("en-US");

  // The progress document at `url`, or null when the server did not answer.
  async function progressAt(url) {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      return await response.json();
    } catch (failure) {
      return null;
    }
  }

  // ---------------------------------------------------------------- step 1: upload
  function setUpUpload(form) {
    const input = document.getElementById("file");
    const zone = document.getElementById("drop-zone");
    const status = document.getElementById("upload-status");
    const error = document.getElementById("upload-error");
    const limit = Number(form.dataset.limit);
    const bar = document.getElementById("upload-bar");

    const fail = (text) => {
      error.textContent = text;
      error.hidden = false;
      status.textContent = "";
      zone.classList.remove("busy");
    };

    function send(file) {
      error.hidden = true;
      if (file.size > limit) {
        fail(`The file is ${number(Math.ceil(file.size / 1048576))} MB; the limit is ` +
          `${form.dataset.limitMb} MB. Split it into smaller files.`);
        return;
      }
      status.textContent = `Uploading ${file.name}…`;
      zone.classList.add("busy");
      bar.hidden = false;
      bar.removeAttribute("value");
      // XMLHttpRequest, not fetch: only it reports how much of the upload has gone.
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
      request.responseType = "json";
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        bar.max = event.total;
        bar.value = event.loaded;
        const percent = Math.round((100 * event.loaded) / event.total);
        status.textContent = `Uploading ${file.name}: ${percent}%`;
      });
      request.upload.addEventListener("load", () => {
        bar.removeAttribute("value");
        status.textContent = `Reading ${file.name} and proposing a mapping…`;
      });
      request.addEventListener("error", () => {
        bar.hidden = true;
        fail("The file could not be uploaded: is captorra-import ui still running?");
      });
      request.addEventListener("load", () => {
        const answer = request.response || {};
        if (request.status !== 200) {
          bar.hidden = true;
          fail(answer.error || "The file could not be uploaded.");
          return;
        }
        status.textContent = `Reading ${file.name} and proposing a mapping…`;
        window.location.assign(answer.next);
      });
      request.send(file);
    }

    input.addEventListener("change", () => {
      if (input.files.length) send(input.files[0]);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.files.length) send(input.files[0]);
    });
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
    }
    for (const type of ["dragleave", "drop"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.remove("over");
      });
    }
    zone.addEventListener("drop", (event) => {
      const files = event.dataTransfer.files;
      if (files.length) send(files[0]);
    });
  }

  // ---------------------------------------------------------------- step 2: mapping form
  function lookupRow(value, guid, label) {
    const row = document.createElement("tr");
    const cells = [["Type.lookup.value", value, label], ["Type.lookup.guid", guid, `GUID for ${value || "another case type"}`]];
    for (const [name, text, aria] of cells) {
      const cell = document.createElement("td");
      const input = document.createElement("input");
      input.name = name;
      input.value = text;
      input.setAttribute("aria-label", aria);
      input.spellcheck = false;
      cell.append(input);
      row.append(cell);
    }
    return row;
  }

  // `typed` remembers every GUID written, so trying another column loses none of them.
  function refreshLookup(columns, header, typed) {
    const body = document.getElementById("lookup-rows");
    if (!body) return;
    const values = body.querySelectorAll("input[name='Type.lookup.value']");
    const guids = body.querySelectorAll("input[name='Type.lookup.guid']");
    values.forEach((input, index) => {
      if (input.value.trim() && guids[index].value.trim()) {
        typed.set(input.value.trim().toLowerCase(), guids[index].value.trim());
      }
    });
    const distinct = (columns[header] || {}).distinct || [];
    const rows = distinct.map((value, index) =>
      lookupRow(value, typed.get(value.toLowerCase()) || "", `Case type ${index + 1}`));
    rows.push(lookupRow("", "", "Another case type"), lookupRow("", "", "Another case type"));
    body.replaceChildren(...rows);
  }

  // The form as typed, kept in this tab (a reload shows it again) and on the server
  // (opening the page again shows it too, even after a save was refused).
  function keepDraft(form) {
    const key = `captorra-mapping:${form.dataset.key}`;
    let timer = null;
    const entries = () => Array.from(new FormData(form).entries())
      .filter(([name]) => name !== "action");
    const save = () => {
      const pairs = entries();
      try { window.sessionStorage.setItem(key, JSON.stringify(pairs)); } catch (full) { /* private mode */ }
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        fetch(form.dataset.draft, {
          method: "POST",
          credentials: "same-origin",
          body: new URLSearchParams(pairs),
        }).catch(() => {});
      }, 300);
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    return key;
  }

  function restoreDraft(form, key) {
    let pairs;
    try { pairs = JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch (bad) { pairs = null; }
    if (!Array.isArray(pairs)) return;
    const wanted = new Map();
    for (const [name, value] of pairs) {
      if (!wanted.has(name)) wanted.set(name, []);
      wanted.get(name).push(value);
    }
    const body = document.getElementById("lookup-rows");
    const rowsWanted = (wanted.get("Type.lookup.value") || []).length;
    while (body && body.querySelectorAll("tr").length < rowsWanted) {
      body.append(lookupRow("", "", "Another case type"));
    }
    const seen = new Map();
    for (const element of form.elements) {
      if (!element.name || element.type === "hidden" || element.type === "submit") continue;
      const values = wanted.get(element.name) || [];
      if (element.type === "checkbox") {
        element.checked = values.includes(element.value);
        continue;
      }
      const index = seen.get(element.name) || 0;
      seen.set(element.name, index + 1);
      if (index < values.length) element.value = values[index];
      else if (element.tagName !== "SELECT") element.value = "";
    }
    if (body) {
      const names = body.querySelectorAll("input[name='Type.lookup.value']");
      body.querySelectorAll("input[name='Type.lookup.guid']").forEach((input, index) => {
        const value = names[index].value;
        input.setAttribute("aria-label", value ? `GUID for ${value}` : "GUID for another case type");
      });
    }
  }

  function setUpMapping(form) {
    const columns = JSON.parse(document.getElementById("columns-data").textContent);
    const learnt = JSON.parse(document.getElementById("learnt-data").textContent || "{}");
    const typed = new Map(Object.entries(learnt));
    const key = keepDraft(form);
    if (!document.getElementById("form-error") && !document.getElementById("confirm-replace")) {
      restoreDraft(form, key);
    }
    for (const row of form.querySelectorAll("tr.field-row")) {
      const field = row.dataset.field;
      const pick = row.querySelector("select.pick");
      const samples = document.getElementById(`${field}-samples`);
      const show = (changed) => {
        const header = pick.value.startsWith("col:") ? pick.value.slice(4) : null;
        const kind = header === null ? pick.value : "column";
        for (const extra of row.querySelectorAll(".extra")) {
          extra.hidden = extra.dataset.when !== kind;
        }
        samples.replaceChildren();
        for (const value of header === null ? [] : (columns[header] || {}).samples || []) {
          const span = document.createElement("span");
          span.className = "sample";
          span.textContent = value;
          samples.append(span);
        }
        if (changed && field === "Type" && header !== null) refreshLookup(columns, header, typed);
      };
      pick.addEventListener("change", () => show(true));
      show(false);
    }
    form.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (button && button.value === "replace-confirmed") {
        try { window.sessionStorage.removeItem(key); } catch (full) { /* private mode */ }
      }
    });
  }

  // ---------------------------------------------------------------- settings
  const CHECKS = {
    captorra_id: (text) => !text.trim() ? "CaptorraId: enter your firm's number from Captorra"
      : /^\d{1,18}$/.test(text.trim()) ? "" : "CaptorraId: digits only, as Captorra shows it (e.g. 123456)",
    referrer: (text) => {
      const bare = text.trim().replace(/^\{(.*)\}$/, "$1").replace(/-/g, "");
      if (!text.trim()) return "Referrer: enter the GUID Captorra gave this lead source";
      return /^[0-9a-fA-F]{32}$/.test(bare) ? "" : "Referrer: a GUID has 32 letters a-f and " +
        "digits in groups of 8-4-4-4-12, e.g. 0a1b2c3d-1234-4abc-8def-0123456789ab";
    },
  };

  function setUpSettings(form) {
    const inputs = form.querySelectorAll("input[data-check]");
    const check = (input, shown) => {
      const problem = CHECKS[input.dataset.check](input.value);
      const box = document.getElementById(`${input.id}-problem`);
      input.setAttribute("aria-invalid", problem ? "true" : "false");
      if (shown || !problem) {
        box.textContent = problem;
        box.hidden = !problem;
      }
      return !problem;
    };
    for (const input of inputs) {
      input.addEventListener("input", () => check(input, input.value.length > 0));
      input.addEventListener("blur", () => check(input, true));
    }
    form.addEventListener("submit", (event) => {
      let good = true;
      for (const input of inputs) good = check(input, true) && good;
      if (!good) event.preventDefault();
    });
  }

  // ---------------------------------------------------------------- step 3: checking
  function setUpChecking(section) {
    const bar = document.getElementById("check-bar");
    const done = document.getElementById("check-done");
    async function poll() {
      const progress = await progressAt(section.dataset.progress);
      if (progress === null) {
        window.setTimeout(poll, 1000);
        return;
      }
      if (progress.over || progress.error) {
        window.location.assign(section.dataset.next);
        return;
      }
      if (progress.total) {
        bar.max = progress.total;
        bar.value = progress.done;
        done.textContent = `${number(progress.done)} of ${number(progress.total)} rows checked`;
      } else {
        done.textContent = `${number(progress.done)} rows checked`;
      }
      window.setTimeout(poll, 300);
    }
    poll();
  }

  // ---------------------------------------------------------------- step 4: progress
  function setUpRun(section) {
    const bar = document.getElementById("bar");
    const done = document.getElementById("run-done");
    const state = document.getElementById("run-state");
    const cancel = document.getElementById("cancel");

    async function poll() {
      const progress = await progressAt(section.dataset.progress);
      if (progress === null) {
        state.textContent = "Lost touch with captorra-import ui: is it still running?";
        window.setTimeout(poll, 2000);
        return;
      }
      bar.value = progress.percent;
      bar.textContent = `${progress.percent}%`;
      done.textContent = `${number(progress.done)} of ${number(progress.total)} rows`;
      const counts = new Map(progress.counts);
      for (const element of section.querySelectorAll("dd[id^='run-']")) {
        element.textContent = number(counts.get(element.id.slice(4)) || 0);
      }
      if (progress.state === "finished" || progress.state === "failed") {
        state.textContent = "Done.";
        window.location.assign(progress.next);
        return;
      }
      if (progress.state === "stopping") {
        state.textContent = "Stopping: requests already sent are finishing…";
        if (cancel) cancel.disabled = true;
      }
      window.setTimeout(poll, 400);
    }
    poll();
  }

  const upload = document.getElementById("upload-form");
  if (upload) setUpUpload(upload);
  const mapping = document.getElementById("mapping-form");
  if (mapping) setUpMapping(mapping);
  const run = document.getElementById("run");
  if (run) setUpRun(run);
  const settingsForm = document.getElementById("settings-form");
  if (settingsForm) setUpSettings(settingsForm);
  const checking = document.getElementById("checking");
  if (checking) setUpChecking(checking);
})();
