// The sign-in page (GET /signin): signs in, or signs up when the server takes sign-ups, through
// POST /api/session and POST /api/accounts. The server answers with a session cookie (HttpOnly: this
// script never sees it) and a token; the chat page gets its own tokens from the cookie later
// (POST /api/session/token). On success the page goes to `next` if it names a path on this site,
// else to /.

const MESSAGES = {
  bad_credentials: "Wrong name or password.",
  signup_closed: "This server does not take sign-ups; ask its operator for an account.",
  name_taken: "That name, or one that looks just like it, is taken. Choose another.",
  weak_password: "The password must be 8 to 1024 characters.",
  invalid_name: null, // the server's own reason says what is wrong with the name
  rate_limited: null,
  overloaded: "The server is busy; try again in a moment.",
  store_unavailable: "The server cannot reach its database; try again later.",
};

/** Where to go once signed in: a same-site path from ?next=, or the chat page. */
export function destination(search, origin) {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) {
    return "/";
  }
  try {
    const url = new URL(next, origin);
    return url.origin === origin ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

/** What to tell the person about a refused request. */
export function explain(status, body) {
  const code = body && body.code;
  if (code === "rate_limited") {
    const seconds = Math.max(1, Math.ceil((body.retryAfter || 1000) / 1000));
    return `Too many attempts; try again in ${seconds} s.`;
  }
  if (code in MESSAGES) {
    return MESSAGES[code] || body.message || "The server refused this.";
  }
  return body && body.message ? body.message : `The server answered ${status}.`;
}

async function submit(form, path, errorBox) {
  const button = form.querySelector("button");
  errorBox.hidden = true;
  button.disabled = true;
  try {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: form.elements.name.value, password: form.elements.password.value }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page): explain() falls back to the status.
    }
    if (response.ok) {
      location.assign(destination(location.search, location.origin));
      return;
    }
    errorBox.textContent = explain(response.status, body);
  } catch {
    errorBox.textContent = "Cannot reach the server; check the connection and try again.";
  } finally {
    errorBox.hidden = !errorBox.textContent;
    button.disabled = false;
  }
}

function start() {
  const signin = document.getElementById("signin-form");
  const signup = document.getElementById("signup-form");
  const signinError = document.getElementById("signin-error");
  const signupError = document.getElementById("signup-error");
  signin.addEventListener("submit", (e) => {
    e.preventDefault();
    signinError.textContent = "";
    submit(signin, "/api/session", signinError);
  });
  signup.addEventListener("submit", (e) => {
    e.preventDefault();
    signupError.textContent = "";
    submit(signup, "/api/accounts", signupError);
  });
  fetch("/api/accounts", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((info) => {
      signup.hidden = !(info && info.openSignup);
    })
    .catch(() => {
      signup.hidden = true;
    });
}

if (typeof document !== "undefined") {
  start();
}
