// A "copy" button: puts the named field's text on the clipboard.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      var said = button.parentElement.querySelector(".copied");
      field.select();
      navigator.clipboard.writeText(field.value).then(function () {
        if (said) { said.textContent = "Copied."; }
      }, function () {
        if (said) { said.textContent = "Select the link and copy it."; }
      });
    });
  });
}());
