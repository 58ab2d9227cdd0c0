// smmpanel's own script: everything works without it. On the order form it
// shows only the fields of the chosen service type and asks the server for
// the charge as you type (the server prices it, with the API's own rules).
(function () {
  "use strict";
  var form = document.querySelector("form[data-order-form]");
  if (!form) return;
  var service = form.querySelector("#f-service");
  var category = form.querySelector("#f-category");
  var output = form.querySelector("output[name=charge]");
  var info = form.querySelector("[data-service-info]");
  var chooser = form.querySelector("[data-no-js]");
  if (chooser) chooser.hidden = true;

  function chosen() { return service.options[service.selectedIndex]; }

  function showFields() {
    var option = chosen();
    if (!option) return;
    var wanted = (option.getAttribute("data-fields") || "").split(" ");
    form.querySelectorAll("[data-field]").forEach(function (box) {
      var name = box.getAttribute("data-field");
      if (name === "service" || name === "category") return;
      var on = wanted.indexOf(name) >= 0;
      box.hidden = !on;
      box.querySelectorAll("input, textarea, select").forEach(function (el) { el.disabled = !on; });
    });
    if (info) info.textContent = option.getAttribute("data-info") || "";
  }

  function filterCategory() {
    if (!category) return;
    var wanted = category.value;
    var firstShown = null;
    Array.prototype.forEach.call(service.options, function (opt) {
      var on = !wanted || opt.getAttribute("data-category") === wanted;
      opt.hidden = !on;
      opt.disabled = !on;
      if (on && !firstShown) firstShown = opt;
    });
    if (chosen() && chosen().disabled && firstShown) service.value = firstShown.value;
  }

  var pending = null;
  function quote() {
    if (!output) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () {
      var body = new URLSearchParams(new FormData(form));
      fetch("/order/charge", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) output.textContent = data.charge || "—"; })
        .catch(function () {});
    }, 200);
  }

  if (category) category.addEventListener("change", function () { filterCategory(); showFields(); quote(); });
  service.addEventListener("change", function () { showFields(); quote(); });
  form.addEventListener("input", function (e) { if (e.target !== service && e.target !== category) quote(); });
  filterCategory();
  showFields();
  quote();
})();
