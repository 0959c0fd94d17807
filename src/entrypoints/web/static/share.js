// The page a share link opens (/s#<token>). The token is in the fragment, which the
// browser never sends to a server; this script hands it to the API: a video plays
// here, a file is offered for download, a password is asked for when the link has one.
(function () {
  "use strict";
  var token = decodeURIComponent(location.hash.slice(1));
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var title = document.getElementById("share-title");
  var status = document.getElementById("share-status");
  var askPassword = document.getElementById("share-password");
  var passwordInput = document.getElementById("share-password-input");
  var fileForm = document.getElementById("share-file");
  var player = document.getElementById("player");
  var DEAD = {
    share_expired: "This link has expired.",
    share_revoked: "This link was revoked by its owner.",
    share_exhausted: "This link has been used as many times as its owner allowed.",
    share_unavailable: "What this link shared is no longer available.",
    share_not_found: "This link does not work. Check that it was copied whole."
  };

  function say(text) { status.textContent = text; }

  function showVideo(body) {
    title.textContent = body.title;
    say("");
    player.dataset.master = body.master_url;
    player.dataset.storyboard = body.storyboard ? body.storyboard.vtt_url : "";
    player.dataset.videoId = body.video_id;
    player.dataset.viewUrl = "";
    var video = player.querySelector("video");
    video.setAttribute("aria-label", body.title);
    if (body.posters.length) { video.poster = body.posters[0].url; }  // the largest
    player.hidden = false;
    var script = document.createElement("script");
    script.src = document.getElementById("share-script").dataset.player;
    document.body.appendChild(script);
  }

  function showFile(password) {
    say("");
    fileForm.elements.token.value = token;
    fileForm.elements.password.value = password || "";
    fileForm.hidden = false;
  }

  function open(password) {
    fetch("/api/v1/public/shares/playback", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(password ? { token: token, password: password } : { token: token })
    }).then(function (answer) {
      return answer.json().then(function (body) { return { status: answer.status, body: body }; });
    }).then(function (reply) {
      var code = reply.body.code;
      askPassword.hidden = true;
      if (reply.status === 200) {
        showVideo(reply.body);
      } else if (code === "share_password_required" || code === "share_password_wrong") {
        say(code === "share_password_wrong" ? "That password is wrong." : "");
        askPassword.hidden = false;
        passwordInput.value = "";
        passwordInput.focus();
      } else if (code === "share_not_playable") {
        showFile(password);
      } else if (reply.status === 429) {
        say("Too many tries. Wait a minute and try again.");
        askPassword.hidden = false;
      } else {
        say(DEAD[code] || DEAD.share_not_found);
      }
    }).catch(function () { say("The link could not be opened. Check your connection."); });
  }

  askPassword.addEventListener("submit", function (event) {
    event.preventDefault();
    open(passwordInput.value);
  });
  if (!token) {
    say(DEAD.share_not_found);
  } else {
    open(null);
  }
}());
