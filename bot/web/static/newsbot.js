// Small enhancements to the managers' page. Every page works without them: the forms
// post and the links load as they would with scripts off.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Stories: picking another channel shows it at once, keeping the search.
  const channel = document.querySelector("form.search select[name=channel]");
  if (channel) {
    channel.addEventListener("change", () => channel.form.requestSubmit());
  }
  // Dead letters: a dropped one is never delivered, so ask first.
  for (const button of document.querySelectorAll("button[name=action][value=drop]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm("Drop this dead letter? It will never be delivered.")) {
        event.preventDefault();
      }
    });
  }
});
