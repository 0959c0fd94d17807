// The watch page's player: hls.js (loaded from this site, on this page only) where
// Media Source Extensions exist, the browser's own HLS player otherwise. Custom controls add a quality menu,
// storyboard previews over the seek bar and keyboard keys; the position is kept per
// browser and a view is counted once per viewing, after a few seconds of playback.
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) { return; }
  var video = root.querySelector("video");
  var controls = root.querySelector(".controls");
  var playButton = controls.querySelector(".play");
  var seek = controls.querySelector(".seek");
  var volume = controls.querySelector(".volume");
  var muteButton = controls.querySelector(".mute");
  var quality = controls.querySelector(".quality");
  var fullButton = controls.querySelector(".fullscreen");
  var preview = controls.querySelector(".preview");
  var tile = preview.querySelector(".tile");
  var previewTime = preview.querySelector(".preview-time");
  var master = root.dataset.master;
  var positionKey = "vp-position:" + root.dataset.videoId;
  var VIEW_AFTER_SECONDS = 5;
  var hls = null;

  function clock(seconds) {
    if (!isFinite(seconds)) { return "0:00"; }
    var s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var rest = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
  }

  // -- the source -----------------------------------------------------------------
  function useHlsJs() {
    var script = document.createElement("script");
    script.src = root.dataset.hls;
    script.onload = function () {
      if (!window.Hls || !window.Hls.isSupported()) { return; }
      hls = new window.Hls({ workerPath: root.dataset.hlsWorker });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        hls.levels.forEach(function (level, index) {
          var option = document.createElement("option");
          option.value = String(index);
          option.textContent = level.height ? level.height + "p" : Math.round(level.bitrate / 1000) + " kb/s";
          quality.appendChild(option);
        });
        quality.hidden = hls.levels.length < 2;
      });
      hls.loadSource(master);
      hls.attachMedia(video);
    };
    document.head.appendChild(script);
  }
  video.removeAttribute("controls");
  controls.removeAttribute("data-waiting");
  // hls.js wherever Media Source Extensions exist: it lists the ladder's rungs for the
  // quality menu, which a browser's own HLS player (Safari's, recent Chromium's) does
  // not. The browser's own player where they do not (older iPhones).
  if (window.MediaSource || window.ManagedMediaSource) {
    video.removeAttribute("src");
    useHlsJs();
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = master;
  }
  quality.addEventListener("change", function () {
    if (hls) { hls.currentLevel = parseInt(quality.value, 10); }
  });

  // -- controls -------------------------------------------------------------------
  function toggle() { if (video.paused) { video.play(); } else { video.pause(); } }
  function showState() {
    playButton.textContent = video.paused ? "Play" : "Pause";
    playButton.setAttribute("aria-label", video.paused ? "Play" : "Pause");
    muteButton.textContent = video.muted ? "Unmute" : "Mute";
    muteButton.setAttribute("aria-label", video.muted ? "Unmute" : "Mute");
  }
  playButton.addEventListener("click", toggle);
  video.addEventListener("click", toggle);
  video.addEventListener("play", showState);
  video.addEventListener("pause", showState);
  video.addEventListener("volumechange", function () {
    volume.value = String(video.muted ? 0 : video.volume);
    showState();
  });
  muteButton.addEventListener("click", function () { video.muted = !video.muted; });
  volume.addEventListener("input", function () {
    video.volume = parseFloat(volume.value);
    video.muted = video.volume === 0;
  });
  seek.addEventListener("input", function () {
    if (isFinite(video.duration)) { video.currentTime = video.duration * seek.value / 1000; }
  });
  function fullScreen() {
    if (document.fullscreenElement) { document.exitFullscreen(); } else { root.requestFullscreen(); }
  }
  fullButton.addEventListener("click", fullScreen);
  video.addEventListener("timeupdate", function () {
    controls.querySelector(".now").textContent = clock(video.currentTime);
    if (isFinite(video.duration) && video.duration > 0) {
      seek.value = String(Math.round(1000 * video.currentTime / video.duration));
      seek.setAttribute("aria-valuetext", clock(video.currentTime) + " of " + clock(video.duration));
    }
  });
  video.addEventListener("durationchange", function () {
    controls.querySelector(".total").textContent = clock(video.duration);
  });

  // -- keys -----------------------------------------------------------------------
  function onKey(event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" && target.type !== "range" ||
                            target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (typing || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var handled = true;
    switch (event.key) {
      case " ": case "k": if (target.tagName === "BUTTON") { handled = false; } else { toggle(); } break;
      case "ArrowLeft": video.currentTime = Math.max(0, video.currentTime - 5); break;
      case "ArrowRight": video.currentTime = Math.min(video.duration || 0, video.currentTime + 5); break;
      case "ArrowUp": video.volume = Math.min(1, video.volume + 0.1); video.muted = false; break;
      case "ArrowDown": video.volume = Math.max(0, video.volume - 0.1); break;
      case "f": fullScreen(); break;
      case "m": video.muted = !video.muted; break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  }
  document.addEventListener("keydown", function (event) {
    var inside = root.contains(event.target) || event.target === document.body;
    if (inside) { onKey(event); }
  });

  // -- storyboard previews ------------------------------------------------------------
  var cues = [];
  function parseTime(text) {
    var parts = text.trim().split(":").map(parseFloat);
    return parts.reduce(function (sum, part) { return sum * 60 + part; }, 0);
  }
  if (root.dataset.storyboard) {
    fetch(root.dataset.storyboard).then(function (answer) {
      return answer.ok ? answer.text() : "";
    }).then(function (text) {
      text.split(/\r?\n\r?\n/).forEach(function (block) {
        var lines = block.trim().split(/\r?\n/);
        var timing = lines.findIndex(function (line) { return line.indexOf("-->") >= 0; });
        if (timing < 0 || !lines[timing + 1]) { return; }
        var span = lines[timing].split("-->");
        var ref = lines[timing + 1].trim();
        var hash = ref.indexOf("#xywh=");
        if (hash < 0) { return; }
        var box = ref.slice(hash + 6).split(",").map(Number);
        cues.push({
          start: parseTime(span[0]), end: parseTime(span[1]),
          url: new URL(ref.slice(0, hash), new URL(root.dataset.storyboard, location.href)).href,
          x: box[0], y: box[1], w: box[2], h: box[3]
        });
      });
    }).catch(function () { cues = []; });
  }
  seek.addEventListener("mousemove", function (event) {
    if (!cues.length || !isFinite(video.duration)) { return; }
    var rect = seek.getBoundingClientRect();
    var fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    var at = fraction * video.duration;
    var cue = cues.find(function (c) { return at >= c.start && at < c.end; }) || cues[cues.length - 1];
    tile.style.width = cue.w + "px";
    tile.style.height = cue.h + "px";
    tile.style.backgroundImage = "url(\"" + cue.url + "\")";
    tile.style.backgroundPosition = "-" + cue.x + "px -" + cue.y + "px";
    preview.style.left = Math.max(0, Math.min(rect.width - cue.w, fraction * rect.width - cue.w / 2)) + "px";
    previewTime.textContent = clock(at);
    preview.hidden = false;
  });
  seek.addEventListener("mouseleave", function () { preview.hidden = true; });

  // -- position kept, view counted ------------------------------------------------------
  video.addEventListener("loadedmetadata", function () {
    var kept = parseFloat(localStorage.getItem(positionKey) || "0");
    if (kept > 5 && isFinite(video.duration) && kept < video.duration - 5) { video.currentTime = kept; }
  });
  var lastSaved = 0;
  video.addEventListener("timeupdate", function () {
    if (Math.abs(video.currentTime - lastSaved) >= 2) {
      lastSaved = video.currentTime;
      localStorage.setItem(positionKey, String(video.currentTime));
    }
  });
  video.addEventListener("ended", function () { localStorage.removeItem(positionKey); });

  var watched = 0, lastTick = null, counted = false;
  video.addEventListener("timeupdate", function () {
    var now = video.currentTime;
    if (lastTick !== null && !video.paused && !video.seeking && now > lastTick && now - lastTick < 1.5) {
      watched += now - lastTick;
    }
    lastTick = now;
    if (!counted && root.dataset.viewUrl && watched >= VIEW_AFTER_SECONDS) {
      counted = true;
      var token = document.querySelector("meta[name=csrf-token]").content;
      fetch(root.dataset.viewUrl, {
        method: "POST",
        headers: { "X-CSRF-Token": token },
        body: new URLSearchParams({ csrf_token: token }),
        credentials: "same-origin"
      });
    }
  });
  video.addEventListener("seeking", function () { lastTick = null; });
  showState();
}());
