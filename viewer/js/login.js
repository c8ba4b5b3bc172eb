// login.js: the sign-in button and dialog in the top bar. After signing in or out the
// page reloads, so every module fetches again with the new rights (the session cookie
// is HttpOnly: scripts never see it; writes send the CSRF token from api.js).

import { fetchMe, signIn, signOut } from "./api.js";
import { t, translatePage } from "./i18n.js";

/** Build the dialog once (hidden); returns its parts. */
function createDialog() {
  const dialog = document.createElement("dialog");
  dialog.id = "loginDialog";
  dialog.innerHTML = `
    <form method="dialog" id="loginForm">
      <h2 data-i18n="login.title"></h2>
      <label><span data-i18n="login.user"></span><input id="loginUser" autocomplete="username" required></label>
      <label><span data-i18n="login.password"></span><input id="loginPassword" type="password" autocomplete="current-password" required></label>
      <p id="loginError" class="error" role="alert" hidden></p>
      <div class="buttons">
        <button type="submit" id="loginSubmit" data-i18n="login.submit"></button>
        <button type="button" id="loginCancel" data-i18n="login.cancel"></button>
      </div>
    </form>`;
  document.body.appendChild(dialog);
  translatePage(dialog);
  return dialog;
}

/** Show a translated error in the dialog. */
function showError(dialog, key) {
  const el = dialog.querySelector("#loginError");
  el.dataset.i18n = key;
  el.textContent = t(key);
  el.hidden = false;
}

/** Send the form; reload on success, explain a refusal otherwise. */
async function submit(dialog) {
  const user = dialog.querySelector("#loginUser").value.trim();
  const password = dialog.querySelector("#loginPassword").value;
  const result = await signIn(user, password);
  if (result.ok) {
    window.location.reload();
    return;
  }
  showError(dialog, result.status === 429 ? "login.tooMany" : "login.failed");
}

/** The top-bar button: "sign in" when anonymous, "name · sign out" when signed in. */
function renderButton(me, dialog) {
  const button = document.createElement("button");
  button.type = "button";
  button.id = "loginButton";
  const signedIn = me.via === "session";
  button.dataset.i18n = signedIn ? "login.signOut" : "login.signIn";
  button.dataset.i18nParams = JSON.stringify({ name: me.name, role: me.role || "" });
  button.textContent = t(button.dataset.i18n, JSON.parse(button.dataset.i18nParams));
  button.addEventListener("click", async () => {
    if (signedIn) {
      await signOut();
      window.location.reload();
    } else {
      dialog.showModal();
      dialog.querySelector("#loginUser").focus();
    }
  });
  document.getElementById("topbar").appendChild(button);
}

/** Add the sign-in button and dialog; resolves the current user ({name, role, ...}). */
export async function initLogin() {
  const me = await fetchMe();
  const dialog = createDialog();
  dialog.querySelector("#loginForm").addEventListener("submit", (event) => {
    event.preventDefault();
    submit(dialog);
  });
  dialog.querySelector("#loginCancel").addEventListener("click", () => dialog.close());
  renderButton(me, dialog);
  return me;
}
