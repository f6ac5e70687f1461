/* JSON Schema form editor: live preview rendered by the server, save into the draft. */
(function () {
  "use strict";
  var text = document.getElementById("schema-text");
  var preview = document.getElementById("form-preview");
  var status = document.getElementById("form-status");
  if (!text || !preview) { return; }
  var timer = null;

  function refresh() {
    fetch(text.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/plain;charset=utf-8", "X-CSRFToken": text.dataset.csrf },
      body: text.value
    }).then(function (resp) { return resp.text(); }).then(function (html) {
      preview.innerHTML = html;  // server-rendered, escaped by Jinja
    });
  }

  text.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });

  document.getElementById("btn-save-form").addEventListener("click", function () {
    var forms = {};
    forms[text.dataset.form] = text.value;
    fetch(text.dataset.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": text.dataset.csrf },
      body: JSON.stringify({ forms: forms })
    }).then(function (resp) {
      status.textContent = resp.ok ? text.dataset.msgSaved : text.dataset.msgError;
    });
  });
})();
