// Fills an import's CSV box from a chosen file: it is read in the browser and nothing is sent
// until the form is submitted (the preview then checks every row). Without JavaScript the field
// stays hidden and the box is pasted into as before.
(function () {
  'use strict';
  document.querySelectorAll('[data-csv-file]').forEach(function (field) {
    var input = field.querySelector('input[type=file]');
    var box = document.getElementById(field.getAttribute('data-csv-file'));
    field.hidden = false;
    input.addEventListener('change', function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var reader = new FileReader();
      reader.onload = function () {
        box.value = String(reader.result);
        box.focus();
      };
      reader.readAsText(file);
    });
  });
})();
