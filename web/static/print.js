// "Print" buttons (data-print): the browser's print dialog, with the page's print styles.
document.querySelectorAll('[data-print]').forEach((button) => {
  button.addEventListener('click', () => window.print());
});
