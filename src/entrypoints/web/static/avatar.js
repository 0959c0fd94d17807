// The profile page's avatar: the chosen picture goes to the API as the signed-in
// visitor (the session cookie, and the page's CSRF token in X-CSRF-Token), then the
// page shows the new one.
(function () {
  "use strict";
  var input = document.getElementById("avatar-file");
  var status = document.getElementById("avatar-status");
  if (!input || !status) return;
  var token = document.querySelector("meta[name=csrf-token]").content;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    status.textContent = "Sending…";
    fetch("/api/v1/auth/me/avatar", {
      method: "PUT",
      headers: { "X-CSRF-Token": token, "Content-Type": file.type || "application/octet-stream" },
      body: file,
      credentials: "same-origin"
    }).then(function (response) {
      if (response.ok) {
        status.textContent = "Saved.";
        window.location.reload();
        return;
      }
      return response.json().then(function (problem) {
        status.textContent = problem.detail || "That picture could not be used.";
      });
    }).catch(function () {
      status.textContent = "The picture could not be sent. Try again.";
    });
  });
})();
