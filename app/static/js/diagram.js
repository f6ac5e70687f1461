/* The instance diagram: bpmn-js viewer with completed and active elements marked. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  var source = document.getElementById("diagram-data");
  if (!container || !source || typeof window.BpmnJS === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  if (!data.xml) { container.dataset.state = "empty"; return; }

  var viewer = new window.BpmnJS({ container: container });
  viewer.importXML(data.xml).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    var marked = { completed: 0, active: 0 };
    (data.completed || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "marker-completed"); marked.completed += 1; }
    });
    (data.active || []).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "marker-active"); marked.active += 1; }
    });
    container.dataset.completed = String(marked.completed);
    container.dataset.active = String(marked.active);
    container.dataset.state = "ready";
  }).catch(function (err) {
    container.dataset.state = "error";
    container.textContent = container.dataset.error || String(err);
  });
})();
