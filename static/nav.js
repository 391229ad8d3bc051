// The phone menu is a <details> in the header (templates/base.html): it opens and closes without
// this script. This adds what a menu is expected to do besides: Escape closes it and puts focus back
// on the Menu button, and a click outside closes it.
(() => {
  const menu = document.querySelector(".nav-menu");
  if (!menu) return;
  const button = menu.querySelector("summary");

  document.addEventListener("keydown", (event) => {
    // From 64em wide the button is hidden and the links show inline: nothing to close there.
    if (event.key !== "Escape" || !menu.open || !button.checkVisibility()) return;
    menu.open = false;
    button.focus();
  });

  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
})();
