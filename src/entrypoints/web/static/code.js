// Pages that take a mailed code: a link from the mail carries it in the fragment
// (never sent to a server); it fills the field in, and leaves the address bar.
(function () {
  "use strict";
  var field = document.getElementById("f-code");
  var code = decodeURIComponent(location.hash.slice(1));
  if (field && code && !field.value) {
    field.value = code;
    history.replaceState(null, "", location.pathname);
  }
}());
