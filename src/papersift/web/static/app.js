// Progressive enhancement: upvote without a page reload. Without JS the form posts normally.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-vote")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const resp = await fetch(form.action, {
      method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (resp.status === 401) { window.location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
    if (!resp.ok) { form.submit(); return; }
    const data = await resp.json();
    document.querySelectorAll("form[data-vote]").forEach((f) => {
      if (f.elements.paper_id.value !== data.id) return;
      f.querySelector("[data-count]").textContent = String(data.total ?? data.upvotes); // source's + ours
      f.elements.action.value = data.upvoted ? "down" : "up";
      const b = f.querySelector("button");
      b.setAttribute("aria-pressed", data.upvoted ? "true" : "false");
      b.setAttribute("aria-label", b.getAttribute("aria-label").replace(/^(Upvote|Remove upvote from)/,
        data.upvoted ? "Remove upvote from" : "Upvote"));
    });
  } catch (e) {
    form.submit();
  } finally {
    button.disabled = false;
  }
});
