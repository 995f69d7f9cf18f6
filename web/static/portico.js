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
  // Certificate files: <input type="file" data-load-into="ID"> puts a PEM file's text, or the
  // base64 of a DER file, into the text field ID (which the server reads either way).
  document.addEventListener("change", function (event) {
    var input = event.target;
    var targetId = input.getAttribute && input.getAttribute("data-load-into");
    if (!targetId || !input.files || !input.files[0]) return;
    var target = document.getElementById(targetId);
    var reader = new FileReader();
    reader.onload = function () {
      var bytes = new Uint8Array(reader.result);
      var text = "";
      for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
      target.value = text.indexOf("-----BEGIN") >= 0 ? text : btoa(text);
      var status = document.getElementById("copy-status");
      if (status) status.textContent = "Certificate loaded";
    };
    reader.readAsArrayBuffer(input.files[0]);
  });
  // A select-all box ticks or unticks every box named by its data-select-all in its form.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var name = all.getAttribute("data-select-all");
    all.form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
      box.checked = all.checked;
    });
  });
  // Destructive forms ask first: <form data-confirm="Really …?">.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
