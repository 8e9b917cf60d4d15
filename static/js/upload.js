// Forms marked `data-upload` post with XMLHttpRequest so the page can show upload progress.
// The server answers JSON: {"redirect": url} on success, {"form": html} with the errors otherwise.
// Without JavaScript the form posts normally and the server answers with a page.
(function () {
  "use strict";

  function bind(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = form.querySelector(".upload-progress");
      var bar = form.querySelector("progress");
      var percent = form.querySelector(".upload-percent");
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var value = Math.round((e.loaded / e.total) * 100);
        bar.value = value;
        bar.textContent = value + "%";
        percent.textContent = value + "%";
      });
      xhr.addEventListener("load", function () {
        var body = xhr.response || {};
        if (body.redirect) {
          window.location.assign(body.redirect);
          return;
        }
        var slot = form.parentNode;
        if (body.form) {
          slot.innerHTML = body.form;
        } else {
          slot.innerHTML = "<p class=\"error\" role=\"alert\">The server answered " + xhr.status + "; nothing was registered.</p>";
        }
        var fresh = slot.querySelector("form[data-upload]");
        if (fresh) {
          bind(fresh);
          var first = fresh.querySelector(".invalid input, .invalid textarea, .form-errors");
          if (first) { first.setAttribute("tabindex", first.getAttribute("tabindex") || "-1"); first.focus(); }
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        percent.textContent = "The upload failed (network error); try again.";
      });
      box.hidden = false;
      button.disabled = true;
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(bind);
})();
