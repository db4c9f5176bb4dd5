/*
 * WebAuthn ceremonies for the passkey sign-in page and the account's passkey page.
 *
 * No inline script anywhere (the CSP is script-src 'self'): pages mark a form with
 * data-webauthn="get" (sign in) or data-webauthn="create" (register) and
 * data-options-url. On submit this script
 *   1. POSTs JSON to data-options-url with the form's CSRF token in X-CSRFToken,
 *   2. turns the base64url fields of the options into ArrayBuffers (WebAuthn 3 5.1),
 *   3. calls navigator.credentials.get() / create(),
 *   4. writes the response as JSON (base64url again) into the form's "credential"
 *      field and submits the form; the server verifies it and answers with a page.
 * Every text shown comes from the page's data-msg-* attributes (translated there).
 */
(function () {
  "use strict";

  function toBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBuffer(item.id);
      return copy;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports =
        typeof response.getTransports === "function" ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return JSON.stringify(json);
  }

  function showError(form, message) {
    var box = document.getElementById(form.getAttribute("data-error-box") || "");
    if (!box) {
      return;
    }
    box.textContent = message;
    box.hidden = false;
  }

  function message(form, name) {
    return form.getAttribute("data-msg-" + name) || form.getAttribute("data-msg-failed") || "";
  }

  function requestBody(form) {
    var body = {};
    var kind = form.querySelector("[name=kind]:checked") || form.querySelector("[name=kind]");
    if (kind) {
      body.kind = kind.value;
    }
    return JSON.stringify(body);
  }

  function fetchOptions(form) {
    return fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.elements.csrf_token.value,
      },
      body: requestBody(form),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!response.ok) {
            var failure = new Error(data.error || "");
            failure.server = true;
            failure.reauth = data.reauth || null;
            throw failure;
          }
          return data;
        });
    });
  }

  function ceremony(form) {
    var create = form.getAttribute("data-webauthn") === "create";
    return fetchOptions(form).then(function (json) {
      if (create) {
        return navigator.credentials.create({ publicKey: creationOptions(json) });
      }
      return navigator.credentials.get({ publicKey: requestOptions(json) });
    });
  }

  function explain(form, error) {
    if (error && error.reauth) {
      window.location.assign(error.reauth);
      return;
    }
    if (error && error.server) {
      showError(form, error.message || message(form, "failed"));
    } else if (error && error.name === "NotAllowedError") {
      showError(form, message(form, "cancelled"));
    } else if (error && error.name === "InvalidStateError") {
      showError(form, message(form, "registered"));
    } else {
      showError(form, message(form, "failed"));
    }
  }

  function start(form, event) {
    event.preventDefault();
    if (form.getAttribute("data-busy") === "1") {
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, message(form, "unsupported"));
      return;
    }
    if (typeof form.reportValidity === "function" && !form.reportValidity()) {
      return;
    }
    form.setAttribute("data-busy", "1");
    ceremony(form)
      .then(function (credential) {
        if (!credential) {
          throw new Error("no credential");
        }
        form.elements.credential.value = credentialJSON(credential);
        form.submit();
      })
      .catch(function (error) {
        form.removeAttribute("data-busy");
        explain(form, error);
      });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        start(form, event);
      });
      form.setAttribute("data-ready", "1");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
