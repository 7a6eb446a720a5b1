// Tiergate: starts ReDoc on the served OpenAPI document (a file, so that the page's CSP needs no inline script).
window.addEventListener("load", function () {
  Redoc.init("/openapi.json", { disableSearch: true, hideDownloadButton: false }, document.getElementById("redoc"));
});
