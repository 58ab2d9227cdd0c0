// The bank-transfer block of /funds: copy buttons, and the balance polled
// while the page is open, so a transfer shows up without a reload. When the
// balance changes, the page's statement (and requests) are fetched again, so
// the page never shows a new balance beside an old statement. Everything
// here is an extra: the page and its forms work without it.
(function () {
  "use strict";
  var block = document.querySelector("[data-bank-transfer]");
  if (!block) return;

  // ---- Copy: the clipboard API where the browser allows it (a secure
  // context), else the older copy command, else the value's text is selected
  // for the user to copy; each outcome is said in the status line.
  var status = block.querySelector("[data-copy-status]");

  function say(button, copied) {
    block.querySelectorAll("button[data-copied]").forEach(function (b) { b.removeAttribute("data-copied"); });
    if (copied) button.setAttribute("data-copied", "1");
    if (status) {
      status.textContent = block.getAttribute(copied ? "data-copied-text" : "data-copy-selected-text");
    }
  }

  function copyCommand(text) {
    var box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.style.position = "fixed";
    box.style.top = "0";
    box.style.left = "0";
    box.style.opacity = "0";
    document.body.appendChild(box);
    box.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(box);
    return copied;
  }

  function selectValue(button) {
    var source = button.parentNode.querySelector("[data-copy-source]");
    var selection = window.getSelection();
    if (!source || !selection) return;
    var range = document.createRange();
    range.selectNodeContents(source);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallBack(button, text) {
    if (copyCommand(text)) {
      say(button, true);
    } else {
      selectValue(button);
      say(button, false);
    }
  }

  block.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { say(button, true); },
                                                 function () { fallBack(button, text); });
      } else {
        fallBack(button, text);
      }
    });
  });

  // ---- The balance, polled; on a change the live sections are fetched again.
  var shown = document.querySelector("[data-balance]");
  if (!shown) return;
  var notice = block.querySelector("[data-deposit-notice]");
  var everyMs = 1000 * (parseInt(block.getAttribute("data-balance-poll-s"), 10) || 3);
  var last = shown.getAttribute("data-balance-micros");
  var sectionsAt = last;  // the balance the live sections on the page were rendered with

  function refreshSections() {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var freshBalance = fresh.querySelector("[data-balance]");
        if (!freshBalance) return;  // not the funds page (signed out, say): try again at the next poll
        document.querySelectorAll("[data-live]").forEach(function (section) {
          var other = fresh.querySelector('[data-live="' + section.getAttribute("data-live") + '"]');
          if (other) section.innerHTML = other.innerHTML;
        });
        sectionsAt = freshBalance.getAttribute("data-balance-micros");
      });
  }

  function poll() {
    fetch("/funds/balance", { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (data) {
        if (!data || data.balance_micros === undefined) return null;
        var now = String(data.balance_micros);
        if (now !== last) {
          shown.textContent = data.balance;
          shown.setAttribute("data-balance-micros", now);
          if (notice) {
            notice.querySelector("[data-deposit-balance]").textContent = data.balance;
            notice.hidden = false;
          }
          last = now;
        }
        return now !== sectionsAt ? refreshSections() : null;
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, everyMs); });
  }
  setTimeout(poll, everyMs);
})();
