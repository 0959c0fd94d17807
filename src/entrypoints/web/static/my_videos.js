// "My videos": the status and progress of videos being processed, live over each
// video's event stream (the API's Server-Sent Events, as the signed-in visitor). A
// browser keeps few connections per site, so a few streams at a time; the others
// follow when one ends.
(function () {
  "use strict";
  var MAX_STREAMS = 3;
  var waiting = Array.prototype.slice.call(
    document.querySelectorAll("tr[data-status=uploaded], tr[data-status=processing]"));
  var open = 0;

  function follow(row) {
    open += 1;
    var status = row.querySelector(".status");
    var bar = row.querySelector("progress");
    var stream = new EventSource("/api/v1/videos/" + row.dataset.videoId + "/events");
    function update(event) {
      var state = JSON.parse(event.data);
      status.textContent = state.status;
      row.dataset.status = state.status;
      if (bar) { bar.value = state.progress; }
      if (state.status === "ready" || state.status === "failed") {
        if (bar) { bar.remove(); bar = null; }
        if (state.status === "failed" && state.last_error) {
          status.textContent = "failed: " + state.last_error;
        }
        done();
      }
    }
    function done() {
      if (stream) { stream.close(); stream = null; open -= 1; next(); }
    }
    stream.addEventListener("status", update);
    stream.addEventListener("progress", update);
    stream.addEventListener("error", function () {
      // The server ended the stream (the video went away, or 30 minutes passed).
      if (stream && stream.readyState === EventSource.CLOSED) { done(); }
    });
  }
  function next() {
    while (open < MAX_STREAMS && waiting.length) { follow(waiting.shift()); }
  }
  next();
}());
