// "Print" buttons (data-print): the browser's print dialog, with the page's print styles.
document.querySelectorAll('[data-print]').forEach((button) => {
  button.addEventListener('click', () => window.print());
  // A button that needs this script stays hidden without it.
  button.hidden = false;
});
