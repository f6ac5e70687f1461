/* Repeating rows of JSON Schema arrays: add and remove rows without a page reload.
   Each list is a <fieldset data-rows> with a <template data-row-template>; the template's
   field names contain __INDEX__, replaced by a fresh index, and __NUMBER__, the row number. */
(function () {
  "use strict";

  function renumber(list) {
    var rows = list.querySelectorAll(":scope > [data-rows-list] > [data-row]");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[data-row-number]").forEach(function (el) {
        if (el.closest("[data-row]") === row) { el.textContent = String(i + 1); }
      });
    });
    var max = Number(list.dataset.max || 0);
    var add = list.querySelector(":scope > [data-add-row]");
    if (add && max) { add.disabled = rows.length >= max; }
  }

  function addRow(list) {
    var template = list.querySelector(":scope > template[data-row-template]");
    var target = list.querySelector(":scope > [data-rows-list]");
    if (!template || !target) { return; }
    var index = Number(list.dataset.nextIndex || 0);
    list.dataset.nextIndex = String(index + 1);
    var html = template.innerHTML.split("__INDEX__").join(String(index))
      .split("__NUMBER__").join(String(target.children.length + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    target.appendChild(row);
    renumber(list);
    var first = row.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  }

  function removeRow(button) {
    var row = button.closest("[data-row]");
    var list = button.closest("[data-rows]");
    if (!row || !list) { return; }
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber(list);
    var focusTarget = next ? next.querySelector("[data-remove-row]") : null;
    (focusTarget || list.querySelector(":scope > [data-add-row]")).focus();
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      event.preventDefault();
      addRow(add.closest("[data-rows]"));
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      removeRow(remove);
    }
  });

  document.querySelectorAll("[data-rows]").forEach(renumber);

  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
})();
