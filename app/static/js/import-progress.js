// Polls the import job's JSON status and moves the progress bar; reloads once it has ended.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box || box.dataset.state !== "running") { return; }
  var bar = document.getElementById("import-bar");
  var stage = document.getElementById("import-stage");
  var polls = 0;
  function poll() {
    polls += 1;
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        bar.style.width = job.percent + "%";
        bar.textContent = job.percent + "%";
        bar.parentElement.setAttribute("aria-valuenow", job.percent);
        stage.textContent = job.stage + ": " + job.done + "/" + job.total;
        if (job.state !== "running") { window.location.reload(); return; }
        if (polls < 3600) { window.setTimeout(poll, 1000); }
      })
      .catch(function () { if (polls < 3600) { window.setTimeout(poll, 3000); } });
  }
  window.setTimeout(poll, 500);
})();
