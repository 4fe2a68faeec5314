/* Tidings signup forms: checks that a list is ticked before sending, solves the optional
   ALTCHA proof-of-work, and, in forms embedded on another site (data-tidings-api), sends
   the signup as JSON and shows the answer in place. No framework, no external assets. */
(function () {
  "use strict";

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function bytes(hexText) {
    var out = new Uint8Array(hexText.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hexText.substr(i * 2, 2), 16);
    return out;
  }

  /* ALTCHA v2, PBKDF2/SHA-256: find a counter whose derived key starts with keyPrefix. */
  async function solve(challenge) {
    var p = challenge.parameters, nonce = bytes(p.nonce), salt = bytes(p.salt);
    var prefix = p.keyPrefix.toLowerCase();
    for (var counter = 0; counter < 0xffffffff; counter++) {
      var password = new Uint8Array(nonce.length + 4);
      password.set(nonce);
      new DataView(password.buffer).setUint32(nonce.length, counter);
      var key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
      var derived = hex(await crypto.subtle.deriveBits(
        {name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: p.cost}, key, p.keyLength * 8));
      if (derived.indexOf(prefix) === 0) {
        return btoa(JSON.stringify({challenge: challenge,
                                    solution: {counter: counter, derivedKey: derived}}));
      }
    }
    throw new Error("unsolvable challenge");
  }

  function setup(form) {
    var api = form.getAttribute("data-tidings-api");
    var altchaUrl = form.getAttribute("data-tidings-altcha");
    var noList = form.getAttribute("data-tidings-no-list") || "Please select at least one mailing list.";
    var boxes = form.querySelectorAll('input[name="lists"]');
    var listError = form.querySelector("[data-tidings-lists-error]");
    var emailError = form.querySelector("[data-tidings-email-error]");
    var status = form.querySelector("[data-tidings-status]");
    var altchaField = form.querySelector('input[name="altcha"]');
    var altchaStatus = form.querySelector("[data-tidings-altcha-status]");
    var solving = null;
    var needAltcha = Boolean(altchaUrl && altchaField && !api);

    function field(name) { return form.querySelector('[name="' + name + '"]'); }

    function showListError(message) {
      listError.textContent = message;
      boxes.forEach(function (box) {
        if (message) box.setAttribute("aria-invalid", "true");
        else box.removeAttribute("aria-invalid");
      });
    }

    function showEmailError(message) {
      var email = field("email");
      if (emailError) emailError.textContent = message;
      if (message) email.setAttribute("aria-invalid", "true");
      else email.removeAttribute("aria-invalid");
    }

    function ticked() {
      return Array.prototype.filter.call(boxes, function (b) { return b.checked; })
        .map(function (b) { return b.value; });
    }

    boxes.forEach(function (box) {
      box.addEventListener("change", function () { if (ticked().length) showListError(""); });
    });

    function startAltcha(url) {
      if (altchaStatus) altchaStatus.textContent = "Checking that you are not a robot…";
      solving = fetch(url, {credentials: "omit"})
        .then(function (r) { return r.json(); })
        .then(function (body) { return solve(body.altcha || body); })
        .then(function (payload) {
          altchaField.value = payload;
          if (altchaStatus) altchaStatus.textContent = "";
          return payload;
        });
      return solving;
    }

    function refresh() {
      /* Embedded forms ask Tidings for a fresh render time and today's consent text. */
      return fetch(api + "/form", {credentials: "omit"})
        .then(function (r) {
          if (!r.ok) throw new Error("form data refused: " + r.status);
          return r.json();
        })
        .then(function (body) {
          field("ts").value = body.form_token;
          field("consent_hash").value = body.consent_hash;
          var text = form.querySelector("[data-tidings-consent-text]");
          if (text) text.textContent = body.consent_text;
          needAltcha = Boolean(body.altcha && altchaField);
          if (needAltcha) {
            solving = solve(body.altcha).then(function (payload) {
              altchaField.value = payload;
              if (altchaStatus) altchaStatus.textContent = "";
              return payload;
            });
          }
        });
    }

    async function sendJson() {
      var body = {
        email: field("email").value, name: field("name").value, lists: ticked(),
        consent: true, form_token: field("ts").value, consent_hash: field("consent_hash").value,
        website: field("website").value, altcha: altchaField ? altchaField.value : null
      };
      status.textContent = "Sending…";
      var response = await fetch(api + "/subscriptions", {
        method: "POST", credentials: "omit",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify(body)
      });
      var answer = await response.json();
      if (response.ok) {
        status.textContent = answer.message;
        form.classList.add("tidings-done");
        return;
      }
      status.textContent = "";
      if (answer.field === "lists") showListError(answer.detail);
      else if (answer.field === "email") showEmailError(answer.detail);
      else status.textContent = answer.detail || answer.title;
    }

    /* Embedded forms first need their fresh token; if that fails, the plain post works. */
    var refreshing = api ? refresh() : Promise.resolve();
    refreshing.catch(function () { /* handled when the reader submits */ });

    form.addEventListener("submit", function (event) {
      if (!ticked().length) {
        event.preventDefault();
        showListError(noList);
        boxes[0].focus();
        return;
      }
      showListError("");
      showEmailError("");
      if (!api && !(needAltcha && !altchaField.value)) return;  /* a plain form post */
      event.preventDefault();
      refreshing.then(function () {
        if (needAltcha && !altchaField.value) return solving || startAltcha(altchaUrl);
      }).then(function () {
        if (api) return sendJson();
        form.submit();
      }).catch(function () {
        if (api) { form.submit(); return; }
        if (status) status.textContent = "Something went wrong. Please try again.";
      });
    });

    if (!api && needAltcha) startAltcha(altchaUrl).catch(function () {});
  }

  document.querySelectorAll("form.tidings-signup").forEach(setup);
})();
