// The search box's completions: titles, tags and popular searches from the API's
// suggest, offered in the box's list as the visitor types.
(function () {
  "use strict";
  var box = document.getElementById("site-search");
  var list = document.getElementById("site-search-suggestions");
  if (!box || !list) { return; }
  var timer = null, asked = "";
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var typed = box.value.trim();
      if (typed.length < 2 || typed === asked) { return; }
      asked = typed;
      fetch("/api/v1/search/suggest?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (found) {
          if (!found || box.value.trim() !== typed) { return; }
          var seen = {};
          list.replaceChildren();
          found.titles.concat(found.queries, found.tags.map(function (t) { return t.tag; }))
            .forEach(function (text) {
              if (seen[text]) { return; }
              seen[text] = true;
              var option = document.createElement("option");
              option.value = text;
              list.appendChild(option);
            });
        })
        .catch(function () { /* no completions: typing goes on */ });
    }, 150);
  });
}());
