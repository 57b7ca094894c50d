/* Copy buttons: <button class="copy-button" data-copy-target="ID" hidden>. The button is
   hidden in the HTML and shown here, so without JavaScript the text is simply there to
   select and copy by hand. */
(function () {
  "use strict";

  function announce(button, text) {
    var status = button.parentNode.querySelector(".copy-status");
    if (status) { status.textContent = text; }
  }

  function copyFrom(field) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value);
    }
    // Older browsers and plain-http intranets: select the text and use the legacy command.
    field.focus();
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.querySelectorAll(".copy-button[data-copy-target]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyFrom(field).then(
        function () { announce(button, button.getAttribute("data-copied") || "Copied. Paste it into the WhatsApp group."); },
        function () { field.select(); announce(button, "Select the text and copy it by hand."); }
      );
    });
  });
})();
