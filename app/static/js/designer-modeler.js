/* The process designer's modeler: bpmn-js Modeler on the working copy, save/validate/deploy. */
(function () {
  "use strict";
  var container = document.getElementById("modeler");
  var source = document.getElementById("modeler-data");
  if (!container || !source || typeof window.BpmnJS === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var status = document.getElementById("modeler-status");
  var report = document.getElementById("modeler-report");
  var modeler = new window.BpmnJS({ container: container, keyboard: { bindTo: document } });

  function say(text) { status.textContent = text; }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": container.dataset.csrf },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().then(function (json) { return { ok: resp.ok, body: json }; });
    });
  }

  function save() {
    return modeler.saveXML({ format: true }).then(function (result) {
      var files = {};
      files[data.file] = result.xml;
      return post(container.dataset.saveUrl, { files: files });
    }).then(function (resp) {
      say(resp.ok ? container.dataset.msgSaved : (resp.body.message || container.dataset.msgError));
      return resp.ok;
    });
  }

  function showReport(rows) {
    report.textContent = "";
    if (!rows.length) { report.textContent = container.dataset.msgOk; return; }
    var intro = document.createElement("p");
    intro.textContent = container.dataset.msgProblems;
    report.appendChild(intro);
    var list = document.createElement("ul");
    list.id = "modeler-report-list";
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    rows.forEach(function (row) {
      var item = document.createElement("li");
      item.className = row.severity === "error" ? "text-danger" : "text-warning-emphasis";
      item.textContent = (row.element_id ? row.element_id + ": " : "") + row.message;
      list.appendChild(item);
      if (row.element_id && registry.get(row.element_id)) {
        canvas.addMarker(row.element_id, row.severity === "error" ? "marker-error" : "marker-warning");
      }
    });
    report.appendChild(list);
  }

  document.getElementById("btn-save").addEventListener("click", function () { save(); });
  document.getElementById("btn-validate").addEventListener("click", function () {
    save().then(function (ok) {
      if (!ok) { return; }
      post(container.dataset.validateUrl).then(function (resp) { showReport(resp.body.report || []); });
    });
  });
  document.getElementById("deploy-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    save().then(function (ok) { if (ok) { form.submit(); } });
  });

  modeler.importXML(data.xml).then(function () {
    modeler.get("canvas").zoom("fit-viewport", "auto");
    container.dataset.state = "ready";
  }).catch(function (err) {
    container.dataset.state = "error";
    say(container.dataset.msgImport + " " + (err && err.message ? err.message : String(err)));
  });
})();
