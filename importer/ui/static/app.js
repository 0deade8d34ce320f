// captorra-import ui: uploads, the mapping form's live parts, and the send's progress.
// Everything works from this page's own server; nothing is fetched from elsewhere.
"use strict";

(function () {
  const number = (value) => Number(value).toLocaleString("en-US");

  // ---------------------------------------------------------------- step 1: upload
  function setUpUpload(form) {
    const input = document.getElementById("file");
    const zone = document.getElementById("drop-zone");
    const status = document.getElementById("upload-status");
    const error = document.getElementById("upload-error");
    const limit = Number(form.dataset.limit);

    const fail = (text) => {
      error.textContent = text;
      error.hidden = false;
      status.textContent = "";
      zone.classList.remove("busy");
    };

    async function send(file) {
      error.hidden = true;
      if (file.size > limit) {
        fail(`The file is ${number(Math.ceil(file.size / 1048576))} MB; the limit is ` +
          `${form.dataset.limitMb} MB. Split it into smaller files, or import it with ` +
          "`captorra-import run`.");
        return;
      }
      status.textContent = `Reading ${file.name}…`;
      zone.classList.add("busy");
      let answer;
      let response;
      try {
        response = await fetch(form.action, {
          method: "POST",
          body: file,
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/octet-stream",
            "X-File-Name": encodeURIComponent(file.name),
          },
        });
        answer = await response.json();
      } catch (failure) {
        fail("The file could not be uploaded: is captorra-import ui still running?");
        return;
      }
      if (!response.ok) {
        fail(answer.error || "The file could not be uploaded.");
        return;
      }
      window.location.assign(answer.next);
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

  function setUpMapping(form) {
    const columns = JSON.parse(document.getElementById("columns-data").textContent);
    const typed = new Map();
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
  }

  // ---------------------------------------------------------------- step 4: progress
  function setUpRun(section) {
    const bar = document.getElementById("bar");
    const done = document.getElementById("run-done");
    const state = document.getElementById("run-state");
    const cancel = document.getElementById("cancel");

    async function poll() {
      let progress;
      try {
        const response = await fetch(section.dataset.progress, { credentials: "same-origin", cache: "no-store" });
        progress = await response.json();
      } catch (failure) {
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
})();
