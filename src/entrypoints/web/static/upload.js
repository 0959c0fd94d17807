// Uploads (the upload page, and a folder of My files): each chosen or dropped file goes
// up over tus (the API's resumable
// uploads), with a progress bar and a cancel button. tus-js-client keeps each
// upload's address in this browser, so choosing the same file again resumes it.
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("upload-files");
  var visibility = document.getElementById("upload-visibility");  // videos only
  var kind = zone.dataset.kind || "video";
  var list = document.getElementById("upload-list");
  var token = document.querySelector("meta[name=csrf-token]").content;

  function problemOf(error) {
    var response = error && error.originalResponse;
    if (response) {
      try {
        var body = JSON.parse(response.getBody());
        return body.detail || body.title;
      } catch (ignored) { /* not a problem document */ }
    }
    return "the connection failed; choose the file again to resume";
  }

  function add(file) {
    var item = document.createElement("li");
    item.className = "upload";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var state = document.createElement("span");
    state.className = "upload-state";
    state.textContent = "starting";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", "Cancel the upload of " + file.name);
    item.append(name, bar, state, cancel);
    list.appendChild(item);

    var result = null;
    var upload = new window.tus.Upload(file, {
      endpoint: zone.dataset.endpoint,
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      headers: { "X-CSRF-Token": token },
      metadata: kind === "file" ? {
        kind: "file",
        filename: file.name,
        folder: zone.dataset.folder || "/"
      } : {
        kind: "video",
        title: file.name.replace(/\.[^.]+$/, "") || file.name,
        visibility: visibility.value
      },
      onProgress: function (sent, total) {
        bar.value = total ? Math.floor(100 * sent / total) : 0;
        state.textContent = bar.value + "%";
      },
      onAfterResponse: function (request, response) {
        var made = response.getHeader("Upload-Result");
        if (made) { result = made; }
      },
      onSuccess: function () {
        bar.value = 100;
        cancel.remove();
        var link = document.createElement("a");
        if (kind === "file") {
          state.textContent = "uploaded: ";
          link.href = location.pathname + location.search;
          link.textContent = "show the folder";
        } else {
          state.textContent = "uploaded, now processing: ";
          var id = result ? result.split("/").pop() : null;
          link.href = id ? "/watch/" + id : "/my/videos";
          link.textContent = id ? "open it" : "see my videos";
        }
        state.appendChild(link);
      },
      onError: function (error) {
        state.textContent = "failed: " + problemOf(error);
        cancel.remove();
      }
    });
    cancel.addEventListener("click", function () {
      upload.abort(true).then(function () {
        state.textContent = "cancelled";
        cancel.remove();
      });
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) { upload.resumeFromPreviousUpload(previous[0]); }
      upload.start();
    });
  }

  input.addEventListener("change", function () {
    Array.prototype.forEach.call(input.files, add);
    input.value = "";
  });
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    Array.prototype.forEach.call(event.dataTransfer.files, add);
  });
}());
