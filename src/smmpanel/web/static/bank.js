// The bank-transfer block of /funds: copy buttons, and the balance polled
// while the page is open, so a transfer shows up without a reload.
(function () {
  "use strict";
  var block = document.querySelector("[data-bank-transfer]");
  if (!block) return;

  block.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      var done = function () { button.setAttribute("data-copied", "1"); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      }
    });
  });

  var shown = document.querySelector("[data-balance]");
  var notice = block.querySelector("[data-deposit-notice]");
  var everyMs = 1000 * (parseInt(block.getAttribute("data-balance-poll-s"), 10) || 3);
  var last = shown ? shown.getAttribute("data-balance-micros") : null;
  if (!shown) return;

  function poll() {
    fetch("/funds/balance", { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (!data || data.balance_micros === undefined) return;
        var now = String(data.balance_micros);
        if (last !== null && now !== last) {
          shown.textContent = data.balance;
          shown.setAttribute("data-balance-micros", now);
          if (notice) {
            notice.querySelector("[data-deposit-balance]").textContent = data.balance;
            notice.hidden = false;
          }
        }
        last = now;
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, everyMs); });
  }
  setTimeout(poll, everyMs);
})();
