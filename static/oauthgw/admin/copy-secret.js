// Copy buttons on the one-time secret page. The value never leaves the page
// except to the clipboard the operator asked for.
"use strict";
(function () {
  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(button) {
    const target = document.getElementById(button.dataset.copyTarget);
    const status = button.parentElement.querySelector(".gw-copied");
    const done = function (text) {
      if (status) status.textContent = text;
      button.textContent = "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.textContent).then(
        function () { done("Copied to the clipboard."); },
        function () { selectText(target); done("Selected: press Ctrl+C."); }
      );
    } else {
      // Plain http (local development): select it and use the old command.
      selectText(target);
      const ok = document.execCommand && document.execCommand("copy");
      done(ok ? "Copied to the clipboard." : "Selected: press Ctrl+C.");
    }
  }

  document.querySelectorAll("button.gw-copy").forEach(function (button) {
    button.addEventListener("click", function () { copy(button); });
  });
})();
