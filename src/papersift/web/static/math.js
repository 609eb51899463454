// Renders the LaTeX in titles and abstracts (elements with class "math") with the vendored KaTeX
// (static/katex/, no CDN). Without JavaScript the page shows the LaTeX source, which stays readable.
(function () {
  if (typeof window.renderMathInElement !== "function") return;
  const options = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "$", right: "$", display: false },
    ],
    throwOnError: false, // a formula KaTeX cannot parse is shown as its source, in red, not an error
    strict: "ignore",
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option", "input"],
  };
  document.querySelectorAll(".math").forEach((el) => window.renderMathInElement(el, options));
})();
