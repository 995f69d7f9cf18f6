// Portico console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Copy buttons: <button data-copy-target="ID">; the result is announced to screen readers.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var status = document.getElementById("copy-status");
    var done = function (message) {
      var label = button.textContent;
      button.textContent = message;
      if (status) status.textContent = message;
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied"); }, function () { done("Copy failed"); });
    } else {
      source.select && source.select();
      done(document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });
  // Destructive forms ask first: <form data-confirm="Really …?">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
